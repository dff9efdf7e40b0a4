"""`python -m management.api.cloudstack.commands`: rewrites the commands index (index.py) from the registry."""

from pathlib import Path

from management.api.cloudstack import commands

path = Path(commands.__file__).with_name("index.py")
path.write_text(commands.render_index(path.read_text(encoding="utf-8")), encoding="utf-8")
print(f"wrote {path}")
