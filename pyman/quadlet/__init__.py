"""Quadlet for pyman: a systemd generator turning ``*.container``, ``*.volume`` and ``*.pod``
files into ``.service`` units that run pyman, as Podman's Quadlet does for podman.

``unitfile`` parses and writes the systemd unit syntax (keeping every value's line for error
messages), ``words`` splits and quotes command lines as systemd does, ``convert`` maps the
Quadlet keys to pyman's options, ``generate`` finds the files and writes the units;
``__main__`` is the generator's entry point (``pyman-quadlet``). Standard library only: a
generator runs early, and it must not pay for typer.
"""
