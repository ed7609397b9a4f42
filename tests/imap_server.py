"""A throwaway Dovecot IMAP server for the tests, from Debian's packages, in a temporary folder.

It listens on loopback only, on free ports: `port` speaks plain IMAP (and offers STARTTLS),
`tls_port` speaks IMAP over TLS. Both use a certificate made for 127.0.0.1, in `cafile`.
Users and their passwords are in `USERS`; mail is kept as maildirs under the folder.

As root, Dovecot runs its processes as its own Debian users (`dovecot`, `dovenull`) and
keeps mail as `nobody`; as anyone else, everything runs as that user.
"""

from __future__ import annotations

import grp
import ipaddress
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

DOVECOT = "/usr/sbin/dovecot"
USERS = {"replies": "reply-box-password", "other": "other-box-password"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _write_certificate(cert: Path, key: Path) -> None:
    """A self-signed certificate for 127.0.0.1, so that clients can verify it."""
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(private, hashes.SHA256())
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key.chmod(0o600)


class ImapServer:
    def __init__(self) -> None:
        if not os.access(DOVECOT, os.X_OK):
            raise RuntimeError(
                "dovecot not found: install Debian's dovecot-imapd package (make test does)"
            )
        self.dir = Path(tempfile.mkdtemp(prefix="beatbook-imap-"))
        # Dovecot's unprivileged processes read the configuration and users from here.
        self.dir.chmod(0o755)
        self.port = free_port()
        self.tls_port = free_port()
        self.cafile = self.dir / "cert.pem"
        self.process: subprocess.Popen[bytes] | None = None

    def _accounts(self) -> dict[str, str]:
        """Who runs what: Dovecot's own users as root; otherwise the current user for all."""
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            return {
                "internal": "dovecot",
                "internal_group": "dovecot",
                "login": "dovenull",
                "mail_uid": str(nobody.pw_uid),
                "mail_gid": str(grp.getgrnam("nogroup").gr_gid),
            }
        me = pwd.getpwuid(os.geteuid()).pw_name
        return {
            "internal": me,
            "internal_group": grp.getgrgid(os.getegid()).gr_name,
            "login": me,
            "mail_uid": str(os.geteuid()),
            "mail_gid": str(os.getegid()),
        }

    def _configure(self) -> Path:
        accounts = self._accounts()
        mail = self.dir / "mail"
        mail.mkdir()
        os.chown(mail, int(accounts["mail_uid"]), int(accounts["mail_gid"]))
        _write_certificate(self.cafile, self.dir / "key.pem")
        users = self.dir / "users"
        users.write_text("".join(f"{u}:{{PLAIN}}{p}::::::\n" for u, p in USERS.items()))
        conf = self.dir / "dovecot.conf"
        conf.write_text(f"""\
instance_name = beatbook-test-{self.port}
base_dir = {self.dir}/run
state_dir = {self.dir}/state
log_path = {self.dir}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{self.cafile}
ssl_key = <{self.dir}/key.pem
# Tests log in with a password over plain loopback connections; a wrong one fails at once.
disable_plaintext_auth = no
auth_failure_delay = 0
auth_mechanisms = plain login
default_internal_user = {accounts["internal"]}
default_internal_group = {accounts["internal_group"]}
default_login_user = {accounts["login"]}
first_valid_uid = 0
mail_location = maildir:{mail}/%u
passdb {{
  driver = passwd-file
  args = {users}
}}
userdb {{
  driver = static
  args = uid={accounts["mail_uid"]} gid={accounts["mail_gid"]} home={mail}/%u
}}
# No chroot: only root may chroot, and the tests may run as anyone. No growing delay for an
# address after failed logins (Dovecot's auth penalty).
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {self.port}
  }}
  inet_listener imaps {{
    port = {self.tls_port}
    ssl = yes
  }}
}}
""")
        return conf

    def _wait_until_listening(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    if s.recv(100).startswith(b"* OK"):
                        s.sendall(b"a LOGOUT\r\n")
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not answer on port {self.port}: {self.log()}")

    def start(self) -> None:
        conf = self._configure()
        # What Dovecot says before its log is open (a configuration error) goes to the log too.
        with open(self.dir / "dovecot.log", "ab") as early:
            self.process = subprocess.Popen(
                [DOVECOT, "-F", "-c", str(conf)], stdout=early, stderr=subprocess.STDOUT
            )
        self._wait_until_listening()

    def log(self) -> str:
        path = self.dir / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        try:
            if self.process is not None and self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session", name="imap_server")
def imap_server_fixture() -> Iterator[ImapServer]:
    """`imap_server`: a real Dovecot on free loopback ports, for the whole test session.
    A test module imports this function to use it (conftest stays as it is)."""
    server = ImapServer()
    server.start()
    yield server
    server.stop()
