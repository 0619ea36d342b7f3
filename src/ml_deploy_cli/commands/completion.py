"""`ml-deploy completion bash|zsh`: a completion script written from the parser itself, so a new
command or option completes without anyone editing the script.

Install: `eval "$(ml-deploy completion bash)"` in ~/.bashrc, or the zsh form in ~/.zshrc (zsh
runs the bash function through its `bashcompinit`, as argcomplete's scripts do).
"""

from __future__ import annotations

import argparse
import shlex

SHELLS = ("bash", "zsh")
_FUNCTION = "_ml_deploy"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("completion", help="print a shell completion script (bash or zsh)")
    parser.add_argument("shell", choices=SHELLS, metavar="SHELL", help="bash or zsh")
    parser.set_defaults(run=run, commands=commands)


def run(args: argparse.Namespace, connect: object) -> int:
    del connect  # nothing to ask the stack
    print(script(args.commands, shell=args.shell, top=args.parser))
    return 0


def _words(parser: argparse.ArgumentParser) -> tuple[list[str], list[str]]:
    """(what may be typed next: options and the choices of positionals, options that take a value)."""
    words: list[str] = []
    valued: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction | argparse._HelpAction):
            continue
        if action.option_strings:
            words += action.option_strings
            if action.nargs != 0:
                valued += action.option_strings
        elif action.choices:
            words += [str(choice) for choice in action.choices]
    return words, valued


def script(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], *, shell: str, top: argparse.ArgumentParser
) -> str:
    top_words, valued = _words(top)
    cases = []
    for name, parser in commands.choices.items():
        words, more = _words(parser)
        valued += more
        cases.append(f"    {shlex.quote(name)}) words={shlex.quote(' '.join(words))} ;;")
    lines = [
        f"{_FUNCTION}() {{",
        '  local cur="${COMP_WORDS[COMP_CWORD]}" command="" words="" skip="" i',
        f"  local valued=' {' '.join(sorted(set(valued)))} '",
        "  for ((i = 1; i < COMP_CWORD; i++)); do",
        '    if [[ -n $skip ]]; then skip=""; continue; fi',
        '    case "${COMP_WORDS[i]}" in',
        '      -*) [[ $valued == *" ${COMP_WORDS[i]} "* ]] && skip=1 ;;',
        '      *) [[ -z $command ]] && command="${COMP_WORDS[i]}" ;;',
        "    esac",
        "  done",
        "  [[ -n $skip ]] && return 0  # a value: let the shell complete files",
        '  case "$command" in',
        f"    '') words={shlex.quote(' '.join([*commands.choices, *top_words]))} ;;",
        *cases,
        "  esac",
        '  COMPREPLY=($(compgen -W "$words" -- "$cur"))',
        "}",
        f"complete -o default -F {_FUNCTION} ml-deploy",
    ]
    if shell == "zsh":
        lines = ["#compdef ml-deploy", "autoload -U +X bashcompinit && bashcompinit", *lines]
    return "\n".join(lines)
