"""`docker` and `aws` for the local build: the only commands of the buildspecs that are stood in.

`docker build` makes an "image" folder from the Dockerfile: COPY lines copy from the context into
`rootfs/`, ENV/ARG/WORKDIR/CMD are recorded in `image.json`; RUN lines install dependencies, which
the project's virtualenv stands in for (a `pip install <folder>` is recorded as that folder on the
import path). `docker push` puts it in the local registry, whose tags are immutable like the ECR
repositories'. `aws ecr ...` answers from that registry (`aws ecr-public get-login-password`
with a token); `aws batch ...` calls moto's Batch.
Run as `python -m ml_deploy_dev.delivery.standins docker|aws ARGS...` by the wrappers on PATH, a
fresh interpreter per command: it imports only the standard library (boto3 for `aws batch|ssm`).
"""

from __future__ import annotations

import glob
import json
import os
import shlex
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REGISTRY_VARIABLE = "LOCAL_REGISTRY"  # the registry folder: <repository>/<tag>/
IMAGES_VARIABLE = "LOCAL_IMAGES"  # images built and not pushed yet, by tag


def registry_dir(image_uri: str, registry: Path) -> Path:
    """`<registry>/<repository>/<tag>` of `<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>`:
    where `docker push` puts an image and the local ECS deploy (`ecs`) finds it."""
    repository, _, tag = image_uri.split("/", 1)[-1].rpartition(":")
    return registry / repository / tag


def docker(argv: Sequence[str]) -> int:
    command, *rest = argv
    if command == "login":
        sys.stdin.read()
        print("Login Succeeded (local registry)")
        return 0
    images = Path(os.environ[IMAGES_VARIABLE])
    if command == "build":
        return _build(rest, images)
    if command == "push":
        (uri,) = rest
        target = registry_dir(uri, Path(os.environ[REGISTRY_VARIABLE]))
        if target.exists():
            print(f"tag invalid: {uri} already exists and the repository is immutable", file=sys.stderr)
            return 1
        shutil.copytree(images / _safe(uri), target, symlinks=True)
        print(f"pushed {uri}")
        return 0
    print(f"docker stand-in: `docker {command}` is not stood in", file=sys.stderr)
    return 1


def _build(argv: Sequence[str], images: Path) -> int:
    options: dict[str, list[str]] = {"-f": [], "--build-arg": [], "--label": [], "-t": []}
    arguments = list(argv)
    context = arguments.pop()
    while arguments:
        flag = arguments.pop(0)
        options[flag].append(arguments.pop(0))
    build_args = dict(item.split("=", 1) for item in options["--build-arg"])
    (tag,) = options["-t"]
    target = images / _safe(tag)
    shutil.rmtree(target, ignore_errors=True)
    config = interpret(Path(options["-f"][0]), Path(context), build_args=build_args, rootfs=target / "rootfs")
    config.update(uri=tag, labels=dict(item.split("=", 1) for item in options["--label"]))
    (target / "image.json").write_text(json.dumps(config, indent=2))
    print(f"built {tag} (COPY into {target / 'rootfs'}; RUN lines: the project virtualenv)")
    return 0


def interpret(dockerfile: Path, context: Path, *, build_args: dict[str, str], rootfs: Path) -> dict[str, Any]:
    """The Dockerfile's COPY, ENV, ARG, WORKDIR and CMD of its last stage (the image; earlier stages
    only prepare files it copies `--from`, which the project virtualenv stands in for), applied to
    `rootfs`."""
    values: dict[str, str] = {}
    env: dict[str, str] = {}
    workdir = "/"
    cmd: list[str] = []
    python_path: list[str] = []
    steps = _instructions(dockerfile.read_text())
    image_stage = max((i for i, (instruction, _) in enumerate(steps) if instruction == "FROM"), default=0)
    for instruction, argument in steps[image_stage:]:
        if instruction == "ARG":
            name, _, default = argument.partition("=")
            values[name] = build_args.get(name, default)
        elif instruction == "ENV":
            for pair in shlex.split(argument):
                name, _, value = pair.partition("=")
                env[name] = values[name] = _substitute(value, values)
        elif instruction == "WORKDIR":
            workdir = str(Path(workdir) / argument)
        elif instruction == "COPY" and not argument.startswith("--from="):
            *sources, destination = shlex.split(argument)
            _copy(context, sources, rootfs / str(Path(workdir) / destination).lstrip("/"), destination)
        elif instruction == "RUN":
            python_path += _installed_folders(argument, rootfs)
        elif instruction == "CMD":
            cmd = json.loads(argument)
    python_path += [entry for entry in env.pop("PYTHONPATH", "").split(":") if entry]
    return {"env": env, "workdir": workdir, "cmd": cmd, "python_path": python_path}


def _instructions(text: str) -> list[tuple[str, str]]:
    joined = text.replace("\\\n", " ")
    lines = [
        line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def _substitute(value: str, values: dict[str, str]) -> str:
    for name, known in sorted(values.items(), key=lambda item: -len(item[0])):
        value = value.replace("${" + name + "}", known).replace("$" + name, known)
    return value


def _copy(context: Path, sources: list[str], target: Path, destination: str) -> None:
    matched = [Path(match) for source in sources for match in sorted(glob.glob(str(context / source)))]
    into_folder = destination.endswith("/") or len(matched) > 1 or destination in (".", "./")
    for source in matched:
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            path = target / source.name if into_folder else target
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, path)


def _installed_folders(run: str, rootfs: Path) -> list[str]:
    """`pip install ... /tmp/build`: the folder's packages (`src/` and its root), as pip would."""
    words = shlex.split(run.replace("&&", " ; "))
    folders = [word for word in words if word.startswith("/") and (rootfs / word.lstrip("/")).is_dir()]
    return [entry for folder in folders if "pip" in words for entry in (f"{folder}/src", folder)]


def _safe(tag: str) -> str:
    return tag.replace("/", "_").replace(":", "__")


def aws(argv: Sequence[str]) -> int:
    service, command, *rest = argv
    options = _options(rest)
    if (service, command) in (("ecr", "get-login-password"), ("ecr-public", "get-login-password")):
        print("local-registry-password")
        return 0
    if (service, command) == ("ecr", "describe-images"):
        tag = options["--image-ids"].removeprefix("imageTag=")
        found = Path(os.environ[REGISTRY_VARIABLE]) / options["--repository-name"] / tag
        if not found.exists():
            print(f"An error occurred (ImageNotFoundException): no image tagged {tag}", file=sys.stderr)
            return 254
        print(json.dumps({"imageDetails": [{"imageTags": [tag]}]}))
        return 0
    if service == "batch":
        return _batch(command, options)
    if (service, command) == ("ssm", "put-parameter"):
        return _put_parameter(options, overwrite="--overwrite" in rest)
    print(f"aws stand-in: `aws {service} {command}` is not stood in", file=sys.stderr)
    return 1


def _options(words: list[str]) -> dict[str, str]:
    return {words[i]: words[i + 1] for i in range(0, len(words) - 1, 2) if words[i].startswith("--")}


def _put_parameter(options: dict[str, str], *, overwrite: bool) -> int:
    """PromoteJobs records the approved jobs image in the stack's parameter (moto_server's SSM)."""
    import boto3  # the endpoint and credentials come from the build's environment (moto_server)

    written = boto3.client("ssm").put_parameter(
        Name=options["--name"], Type=options["--type"], Value=options["--value"], Overwrite=overwrite
    )
    print(written["Version"])
    return 0


def _batch(command: str, options: dict[str, str]) -> int:
    import boto3  # the endpoint and credentials come from the build's environment (moto_server)

    batch = boto3.client("batch")
    if command == "describe-job-definitions":
        described = batch.describe_job_definitions(
            jobDefinitionName=options["--job-definition-name"], status=options.get("--status", "ACTIVE")
        )
        described.pop("ResponseMetadata", None)
        print(json.dumps(described, default=str))
        return 0
    if command == "register-job-definition":
        request = json.loads(Path(options["--cli-input-json"].removeprefix("file://")).read_text())
        registered = batch.register_job_definition(**request)
        print(f"{registered['jobDefinitionName']}\t{registered['revision']}")
        return 0
    print(f"aws stand-in: `aws batch {command}` is not stood in", file=sys.stderr)
    return 1


def write_wrappers(folder: Path, *, code: Path) -> Path:
    """`docker` and `aws` scripts in `folder` that run this module with this interpreter."""
    folder.mkdir(parents=True, exist_ok=True)
    # The code's own folders first: the stand-ins of the code they run with, not the venv's install.
    python_path = f"{code / 'src'}{os.pathsep}{code}"
    for name in ("docker", "aws"):
        script = folder / name
        script.write_text(
            f'#!/bin/sh\nPYTHONPATH="{python_path}" '
            f'exec "{sys.executable}" -m ml_deploy_dev.delivery.standins {name} "$@"\n'
        )
        script.chmod(0o755)
    return folder


def main(argv: Sequence[str] | None = None) -> int:
    program, *rest = list(sys.argv[1:] if argv is None else argv)
    return docker(rest) if program == "docker" else aws(rest)


if __name__ == "__main__":
    sys.exit(main())
