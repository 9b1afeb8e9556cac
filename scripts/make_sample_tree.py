"""Write a small, deterministic sample tree (a customer's web site) for the demo; idempotent.

Each run appends one line to a log file, so a second demo run shows an incremental backup.
"""

import datetime
import pathlib
import random
import sys


def main(root: pathlib.Path) -> None:
    generator = random.Random(8_2)
    for index in range(40):
        page = root / "htdocs" / f"page-{index:02d}.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        if not page.exists():
            words = " ".join(
                generator.choice(["backup", "restore", "customer", "data"]) for _ in range(200)
            )
            page.write_text(f"<html><body><p>{words}</p></body></html>\n")
    images = root / "htdocs" / "images"
    images.mkdir(exist_ok=True)
    for index in range(5):
        image = images / f"photo-{index}.bin"
        if not image.exists():
            image.write_bytes(generator.randbytes(256 * 1024))
    (root / "cache.tmp").write_text("excluded by the config\n")
    with (root / "access.log").open("a") as log:
        log.write(f"{datetime.datetime.now(datetime.UTC).isoformat()} GET /\n")


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]))
