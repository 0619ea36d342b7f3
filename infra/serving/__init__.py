"""Serving: the ECS cluster; stage and prod with their ingress, scaling, alarms, dashboard and roles."""
