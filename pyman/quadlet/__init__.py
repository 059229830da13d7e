"""Quadlet for pyman: a systemd generator turning ``*.container``, ``*.volume`` and ``*.pod``
files into ``.service`` units that run pyman, as Podman's Quadlet does for podman.

``unitfile`` parses and writes the systemd unit syntax (keeping every value's line for error
messages), ``words`` splits and quotes command lines as systemd does, ``convert`` maps the
Quadlet keys to pyman's options, ``generate`` finds the files and writes the units;
``__main__`` is the generator's entry point (``pyman-quadlet``). The standard library plus
pyman's own pure value parsers (ports, volumes, mounts: the ones `pyman run` uses, so a bad
value is caught at generation): a generator runs early, and must not pay for typer (~60 ms
in all for a few files).
"""
