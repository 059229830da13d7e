"""pyman login, pyman logout."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from pyman.errors import PymanError

app = typer.Typer(add_completion=False)
CTX = {"help_option_names": ["--help"]}

REGISTRY_HELP = "Registry: HOST, HOST:PORT or HOST/NAMESPACE/REPO."
TlsVerify = Annotated[str | None, typer.Option(
    "--tls-verify", metavar="true|false",
    help="Require HTTPS and verify certificates (default: registries.conf).")]
CertDir = Annotated[str | None, typer.Option(
    "--cert-dir", help="Directory with the registry's CA (*.crt) and client certificates "
    "(*.cert, *.key); default: $XDG_CONFIG_HOME/containers/certs.d/<host>, "
    "/etc/containers/certs.d/<host>.")]
AuthFile = Annotated[str | None, typer.Option(
    "--authfile", help="Path of the authentication file (default: "
    "$XDG_RUNTIME_DIR/containers/auth.json, or $REGISTRY_AUTH_FILE).")]


def parse_bool(value: str | None, flag: str) -> bool | None:
    if value is None:
        return None
    low = value.lower()
    if low in ("true", "1", "yes", ""):
        return True
    if low in ("false", "0", "no"):
        return False
    raise PymanError(f"invalid argument {value!r} for {flag}: use true or false")


def _ask(prompt: str, secret: bool, what: str) -> str:
    """Prompt on the terminal; without one, fail as Podman does."""
    if not sys.stdin.isatty():
        if secret:
            raise PymanError(f"getting username and password: reading {what}: no terminal to "
                             "ask on: use --password-stdin or --password")
        print(prompt, end="", file=sys.stderr, flush=True)
        line = sys.stdin.readline()
        if not line:
            raise PymanError(f"getting username and password: reading {what}: EOF")
        return line.rstrip("\n")
    if secret:
        import getpass

        return getpass.getpass(prompt)
    return input(prompt)


@app.command("login", context_settings=CTX)
def login(
    registry: Annotated[str | None, typer.Argument(help=REGISTRY_HELP)] = None,
    username: Annotated[str | None, typer.Option("--username", "-u", help="Username.")
                        ] = None,
    password: Annotated[str | None, typer.Option("--password", "-p", help="Password.")
                        ] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin",
                                                 help="Read the password from stdin.")
                              ] = False,
    get_login: Annotated[bool, typer.Option("--get-login",
                                            help="Print the stored username.")] = False,
    tls_verify: TlsVerify = None,
    authfile: AuthFile = None,
    cert_dir: CertDir = None,
) -> None:
    """Log in to a container registry: verify the credentials, then store them."""
    from pyman.cli.context import engine as make_engine
    from pyman.engine.types import LoginOptions

    if password is not None and password_stdin:
        raise PymanError("Can't specify both --password-stdin and --password")
    if password_stdin and not username:
        raise PymanError("Must provide --username with --password-stdin")
    verify = parse_bool(tls_verify, "--tls-verify")
    service = make_engine().registry
    reg = registry or service.default_registry()
    if get_login:
        creds = service.stored(reg, authfile)
        if creds is None:
            raise PymanError(f"not logged into {reg}")
        print(creds.username)
        return
    if password_stdin:
        password = sys.stdin.read().rstrip("\r\n")
    if username is None and password is None:
        stored = service.stored(reg, authfile)
        if stored is not None:
            print(f"Authenticating with existing credentials for {reg}")
            try:
                service.check(reg, stored, verify, cert_dir)
                print(f"Existing credentials are valid. Already logged in to {reg}")
                return
            except PymanError as exc:
                print(f"Existing credentials are invalid, please enter valid username and "
                      f"password ({exc})", file=sys.stderr)
    if not username:
        username = _ask("Username: ", False, "username")
    if password is None:
        password = _ask("Password: ", True, "password")
    service.login(LoginOptions(reg, username, password, authfile, verify, cert_dir))
    print("Login Succeeded!")


@app.command("logout", context_settings=CTX)
def logout(
    registry: Annotated[str | None, typer.Argument(help=REGISTRY_HELP)] = None,
    all_registries: Annotated[bool, typer.Option("--all", "-a",
                                                 help="Remove credentials for all registries.")
                              ] = False,
    authfile: AuthFile = None,
) -> None:
    """Remove stored credentials for a registry."""
    from pyman.cli.context import engine as make_engine

    print(make_engine().registry.logout(registry, authfile, all_registries))
