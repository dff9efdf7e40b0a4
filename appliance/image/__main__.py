"""`python -m appliance.image [--cache-dir DIR]`: build (or find) the tiny image, print its path."""

import argparse
import sys
import time

from appliance.image.builder import build_tiny_image


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m appliance.image")
    ap.add_argument("--cache-dir", default=None)
    args = ap.parse_args(argv)
    t0 = time.monotonic()
    path = build_tiny_image(args.cache_dir, progress=lambda m: print(f"[image] {m}", file=sys.stderr))
    print(f"[image] ready in {time.monotonic() - t0:.2f}s, {path.stat().st_size} bytes", file=sys.stderr)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
