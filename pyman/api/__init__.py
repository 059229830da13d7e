"""`pyman system service`: the Docker-compatible REST API over the same Engine as the CLI.

Not a daemon: an ordinary user process started on demand that exits after ``--time`` idle
seconds. Every request drives `pyman.engine.Engine`, whose state and locks are the CLI's, so a
container made through the socket is one `pyman ps` shows. aiohttp (asyncio) serves it;
the engine's blocking calls run in worker threads (engine/...: file locks, subprocesses).
"""
