"""Read the repository's Dockerfiles, the one description of each image.

`parse` turns a Dockerfile into an `ImageSpec`: the final stage's base, the Debian packages
it apt-installs, the user it creates, its ENV/USER/WORKDIR/EXPOSE/ENTRYPOINT/CMD, what it
copies from the build stage, and the build stage's commands (its pip installs, its compile).
Only the forms our Dockerfiles use are understood; anything else is an error, never a guess.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
# Image short name -> the reference the chart and the test node use.
IMAGES: dict[str, str] = {
    "model-server": "modelplane/model-server:0.1.0",
    "model-server-cuda": "modelplane/model-server-cuda:0.1.0",
    "operator": "modelplane/operator:0.1.0",
    "router": "modelplane/router:0.1.0",
    "pause": "modelplane/pause:3.10",
}
# What a base image's own config starts with: ENV may refer to it ($PATH), and CMD is
# inherited when a stage sets neither ENTRYPOINT nor CMD. The daemonless builder makes
# these bases itself (debian:bookworm-slim from mmdebstrap, scratch empty).
DEBIAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BASE_ENV: dict[str, tuple[tuple[str, str], ...]] = {
    "debian:bookworm-slim": (("PATH", DEBIAN_PATH),),
    "scratch": (),
}
BASE_CMD: dict[str, tuple[str, ...]] = {"debian:bookworm-slim": ("bash",), "scratch": ()}


class DockerfileError(ValueError):
    """A Dockerfile uses a form this reader does not understand."""


@dataclass(frozen=True)
class Instruction:
    word: str  # upper case: FROM, RUN, ...
    rest: str


@dataclass(frozen=True)
class Stage:
    base: str
    name: str | None
    instructions: tuple[Instruction, ...]


@dataclass(frozen=True)
class User:
    """An account made by `useradd` (with --user-group: a group of the same name and id)."""

    name: str
    uid: int
    gid: int
    shell: str
    home: str
    argv: tuple[str, ...]  # the command as written: the daemonless builder runs it as is


@dataclass(frozen=True)
class Copy:
    """`COPY [--from=stage] src... dst` of the final stage."""

    source_stage: str | None
    sources: tuple[str, ...]
    dest: str


@dataclass(frozen=True)
class PipStep:
    """One `pip install` of the build stage; "." (with extras) is the repository's package."""

    requirements: tuple[str, ...]
    no_deps: bool


@dataclass(frozen=True)
class ImageSpec:
    """Everything the daemonless builder reads from one Dockerfile."""

    path: Path
    stages: int
    base: str
    apt_packages: tuple[str, ...]
    users: tuple[User, ...]
    env: tuple[tuple[str, str], ...]
    user: str
    workdir: str
    expose: tuple[str, ...]
    entrypoint: list[str]
    cmd: list[str]
    copies: tuple[Copy, ...]
    build_copies: tuple[Copy, ...]
    build_commands: tuple[tuple[str, ...], ...]

    @property
    def command(self) -> list[str]:
        """The command a container of the image runs with no arguments given."""
        return [*self.entrypoint, *self.cmd]

    @property
    def pip_steps(self) -> tuple[PipStep, ...]:
        return tuple(pip_step(argv) for argv in self.build_commands if is_pip_install(argv))

    @property
    def extras(self) -> tuple[str, ...]:
        """The extras of the repository's package as the build stage installs it."""
        for step in self.pip_steps:
            for requirement in step.requirements:
                project, extras = project_extras(requirement)
                if project:
                    return extras
        return ()


def instructions(text: str) -> list[Instruction]:
    """The instructions with continuation lines joined and comments dropped."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    out = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append(Instruction(word.upper(), rest.strip()))
    return out


def stages(items: list[Instruction]) -> list[Stage]:
    """Split instructions into stages; ARG defaults before the first FROM expand in FROM."""
    args: dict[str, str] = {}
    found: list[tuple[str, str | None, list[Instruction]]] = []
    for item in items:
        if item.word == "FROM":
            words = expand(item.rest, args).split()
            if len(words) not in (1, 3) or (len(words) == 3 and words[1].upper() != "AS"):
                raise DockerfileError(f"FROM {item.rest!r}: expected IMAGE [AS NAME]")
            found.append((words[0], words[2] if len(words) == 3 else None, []))
        elif not found:
            if item.word != "ARG":
                raise DockerfileError(f"{item.word} before the first FROM")
            name, _, default = item.rest.partition("=")
            args[name.strip()] = default.strip().strip('"')
        else:
            found[-1][2].append(item)
    return [Stage(base, name, tuple(body)) for base, name, body in found]


def expand(text: str, env: dict[str, str]) -> str:
    """$NAME and ${NAME} replaced from env (unset: empty), as Docker does."""
    return re.sub(r"\$(?:\{(\w+)\}|(\w+))", lambda m: env.get(m.group(1) or m.group(2), ""), text)


def exec_form(word: str, rest: str) -> list[str]:
    try:
        value = json.loads(rest)
    except json.JSONDecodeError as error:
        raise DockerfileError(f"{word} {rest!r}: only the exec (JSON) form is read") from error
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DockerfileError(f"{word} {rest!r}: expected a JSON list of strings")
    return list(value)


def env_pairs(rest: str, env: dict[str, str]) -> list[tuple[str, str]]:
    """The pairs of one ENV instruction, expanded against the env before it."""
    words = shlex.split(rest)
    if words and "=" not in words[0]:  # legacy `ENV KEY value with spaces`
        return [(words[0], expand(rest.partition(" ")[2].strip(), env))]
    pairs = []
    for word in words:
        key, sep, value = word.partition("=")
        if not sep:
            raise DockerfileError(f"ENV {rest!r}: expected KEY=VALUE pairs")
        pairs.append((key, expand(value, env)))
    return pairs


def commands(run: str) -> list[tuple[str, ...]]:
    """The `&&`-separated commands of a RUN (shell form), each split into words."""
    return [tuple(shlex.split(part)) for part in run.split("&&") if part.strip()]


def apt_installs(argv: tuple[str, ...]) -> tuple[str, ...]:
    """The packages of `apt-get install ...`; () for any other command."""
    if argv[:1] != ("apt-get",) or "install" not in argv:
        return ()
    rest = argv[argv.index("install") + 1 :]
    return tuple(word for word in rest if not word.startswith("-"))


def useradd(argv: tuple[str, ...]) -> User | None:
    """The account `useradd` makes, for the options our Dockerfiles use."""
    if argv[:1] != ("useradd",):
        return None
    uid = gid = None
    shell, name, group = "/bin/sh", None, False
    words = list(argv[1:])
    while words:
        word = words.pop(0)
        if word in ("--uid", "-u"):
            uid = int(words.pop(0))
        elif word in ("--shell", "-s"):
            shell = words.pop(0)
        elif word in ("--user-group", "-U"):
            group = True
        elif word in ("--no-create-home", "-M", "--no-log-init", "-l", "--system", "-r"):
            pass
        elif word.startswith("-"):
            raise DockerfileError(f"useradd option {word!r} is not understood")
        else:
            name = word
    if uid is None or name is None or not group:
        raise DockerfileError(f"{shlex.join(argv)}: expected --uid N --user-group NAME")
    gid = uid
    return User(name=name, uid=uid, gid=gid, shell=shell, home=f"/home/{name}", argv=argv)


def is_pip_install(argv: tuple[str, ...]) -> bool:
    return len(argv) >= 2 and argv[0].endswith("/pip") and argv[1] == "install"


def pip_step(argv: tuple[str, ...]) -> PipStep:
    """One `pip install` with the flags our Dockerfiles use (others are refused)."""
    no_deps, requirements = False, []
    for word in argv[2:]:
        if word == "--no-deps":
            no_deps = True
        elif word == "--no-cache-dir":
            pass
        elif word.startswith("-"):
            raise DockerfileError(f"pip install option {word!r} is not understood")
        else:
            requirements.append(word)
    return PipStep(tuple(requirements), no_deps)


def project_extras(requirement: str) -> tuple[bool, tuple[str, ...]]:
    """Whether a pip requirement is the repository's package (".[a,b]"), and its extras."""
    match = re.fullmatch(r"\.(?:\[([\w,\- ]*)\])?", requirement)
    if not match:
        return False, ()
    return True, tuple(e.strip() for e in (match.group(1) or "").split(",") if e.strip())


def copy(rest: str) -> Copy:
    words = rest.split()
    source_stage = None
    while words and words[0].startswith("--"):
        flag = words.pop(0)
        if flag.startswith("--from="):
            source_stage = flag.removeprefix("--from=")
        else:
            raise DockerfileError(f"COPY {flag}: not understood")
    if len(words) < 2:
        raise DockerfileError(f"COPY {rest!r}: expected SRC... DEST")
    return Copy(source_stage, tuple(words[:-1]), words[-1])


def parse_text(text: str, path: Path) -> ImageSpec:
    """The image a Dockerfile describes: its final stage and the stage that stage copies from."""
    all_stages = stages(instructions(text))
    if not all_stages:
        raise DockerfileError(f"{path}: no FROM")
    final = all_stages[-1]
    if final.base not in BASE_ENV:
        raise DockerfileError(f"{path}: final base {final.base!r} is not one of {list(BASE_ENV)}")
    env = dict(BASE_ENV[final.base])
    apt: list[str] = []
    users: list[User] = []
    copies: list[Copy] = []
    user, workdir = "root", "/"
    expose: list[str] = []
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    for item in final.instructions:
        if item.word == "RUN":
            for argv in commands(item.rest):
                apt.extend(apt_installs(argv))
                made = useradd(argv)
                if made:
                    users.append(made)
        elif item.word == "ENV":
            for key, value in env_pairs(item.rest, env):
                env[key] = value
        elif item.word == "USER":
            user = item.rest
        elif item.word == "WORKDIR":
            workdir = item.rest
        elif item.word == "EXPOSE":
            expose.extend(p if "/" in p else f"{p}/tcp" for p in item.rest.split())
        elif item.word == "ENTRYPOINT":
            entrypoint = exec_form(item.word, item.rest)
            cmd = cmd if cmd is not None else []  # ENTRYPOINT drops the base image's CMD
        elif item.word == "CMD":
            cmd = exec_form(item.word, item.rest)
        elif item.word == "COPY":
            copies.append(copy(item.rest))
        elif item.word not in ("ARG", "LABEL"):
            raise DockerfileError(f"{path}: {item.word} in the final stage is not understood")
    sources = {c.source_stage for c in copies if c.source_stage}
    build = [s for s in all_stages[:-1] if s.name in sources]
    build_items = [item for stage in build for item in stage.instructions]
    build_commands = [
        argv for item in build_items if item.word == "RUN" for argv in commands(item.rest)
    ]
    return ImageSpec(
        path=path,
        stages=len(all_stages),
        base=final.base,
        apt_packages=tuple(apt),
        users=tuple(users),
        env=tuple(env.items()),
        user=user,
        workdir=workdir,
        expose=tuple(expose),
        entrypoint=entrypoint or [],
        cmd=cmd if cmd is not None else list(BASE_CMD[final.base]),
        copies=tuple(copies),
        build_copies=tuple(copy(item.rest) for item in build_items if item.word == "COPY"),
        build_commands=tuple(build_commands),
    )


def parse(path: Path) -> ImageSpec:
    """The spec of one Dockerfile."""
    return parse_text(path.read_text(), path)


def load(name: str) -> ImageSpec:
    """The spec of one image by short name (docker/<name>.Dockerfile)."""
    if name not in IMAGES:
        raise KeyError(f"unknown image {name!r}; known: {', '.join(IMAGES)}")
    return parse(DOCKER / f"{name}.Dockerfile")
