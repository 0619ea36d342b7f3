"""`ml-deploy completion bash|zsh`: the script, run by a real bash, completes what the parser takes."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from ml_deploy_cli.__main__ import main


def script(shell: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["completion", shell], environ={}) == 0
    return capsys.readouterr().out


def complete(completion: str, *words: str) -> list[str]:
    """What bash offers after `ml-deploy WORDS...` (the last word is the one being typed)."""
    line = " ".join(f"'{word}'" for word in ("ml-deploy", *words))
    ask = f"COMP_WORDS=({line}); COMP_CWORD={len(words)}; _ml_deploy"
    program = f"{completion}\n{ask}; printf '%s\\n' \"${{COMPREPLY[@]}}\""
    done = subprocess.run(["bash", "-c", program], capture_output=True, text=True, check=True)
    return [word for word in done.stdout.splitlines() if word]


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completes_commands_options_and_environments(capsys: pytest.CaptureFixture[str]) -> None:
    completion = script("bash", capsys)

    assert complete(completion, "st") == ["status"]
    assert complete(completion, "--local", "h") == ["history"]
    assert complete(completion, "--outputs", "status.json", "ro") == ["rollback"], "a value is not a command"
    assert complete(completion, "rollback", "") == [
        "stage",
        "prod",
        "--outputs",
        "--stack",
        "--region",
        "--local",
    ]
    assert complete(completion, "status", "--j") == ["--json"]
    assert complete(completion, "logs", "--since", "") == [], "a value: the shell's own completion"
    assert "deploy" in complete(completion, "de"), "pipeline steps complete too"


def test_zsh_runs_the_same_function_through_bashcompinit(capsys: pytest.CaptureFixture[str]) -> None:
    completion = script("zsh", capsys)

    assert completion.splitlines()[:2] == [
        "#compdef ml-deploy",
        "autoload -U +X bashcompinit && bashcompinit",
    ]
    assert completion.rstrip().endswith("complete -o default -F _ml_deploy ml-deploy")
    if shutil.which("zsh"):
        subprocess.run(["zsh", "-c", completion], check=True)


def test_an_unknown_shell_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", "fish"], environ={}) == 2
    assert "invalid choice: 'fish'" in capsys.readouterr().err
