"""python -m tools.images build [NAME...] | save NAME FILE | ref NAME"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tools.images.build import BuildError, Result, build, mb
from tools.images.dockerfile import IMAGES, DockerfileError


def table(results: dict[str, Result], seconds: float) -> str:
    lines = [f"{'image':<40} {'size':>12}  layers  {'built':<28} id"]
    for result in results.values():
        built = f"{len(result.rebuilt)} built, {len(result.layers) - len(result.rebuilt)} cached"
        lines.append(
            f"{result.ref:<40} {mb(result.size):>12}  {len(result.layers):>6}  "
            f"{built:<28} {result.image_id[:19]}"
        )
    lines.append(f"{len(results)} image(s) in {seconds:.1f} s (sizes uncompressed)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.images", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    build_cmd = sub.add_parser("build", help="build images (default: all) into the cache")
    build_cmd.add_argument("names", nargs="*", choices=[[], *IMAGES], metavar="NAME")
    save_cmd = sub.add_parser("save", help="write an image as a docker archive file")
    save_cmd.add_argument("name", choices=list(IMAGES))
    save_cmd.add_argument("file")
    ref_cmd = sub.add_parser("ref", help="print an image's reference (name:tag)")
    ref_cmd.add_argument("name", choices=list(IMAGES))
    args = parser.parse_args(argv)
    if args.command == "ref":
        print(IMAGES[args.name])
        return 0
    started = time.monotonic()
    try:
        names = [args.name] if args.command == "save" else (args.names or list(IMAGES))
        results = build(names)
    except (BuildError, DockerfileError, FileNotFoundError) as error:
        print(f"images: {error}", file=sys.stderr)
        return 1
    if args.command == "save":
        print(results[args.name].save(Path(args.file)))
    else:
        print(table(results, time.monotonic() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
