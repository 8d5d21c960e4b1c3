"""Real processes for the proxy's end-to-end tests: `schoolgate proxy`, local origins, certificates, curl."""

from __future__ import annotations

import datetime as dt
import hashlib
import http.server
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes] | None = None, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"process stopped with status {process.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")


def self_signed(folder: Path, names: Iterable[str]) -> tuple[Path, Path]:
    """A self-signed certificate (its own CA) for `names`, written as cert and key PEM files."""
    names = list(names)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "origin.pem", folder / "origin-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def fingerprint(pem_or_der: bytes) -> str:
    der = ssl.PEM_cert_to_DER_cert(pem_or_der.decode()) if pem_or_der.startswith(b"-----") else pem_or_der
    return hashlib.sha256(der).hexdigest()


class Origin:
    """A local HTTP (or HTTPS) origin on 127.0.0.1 that counts the connections it accepts."""

    def __init__(self, cert: tuple[Path, Path] | None = None, body: bytes = b"hello from the origin\n") -> None:
        origin = self
        self.connections = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
                self.send_response(200)
                self.send_header("content-type", "text/plain")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self) -> tuple[socket.socket, object]:
                sock, address = super().get_request()
                origin.connections += 1
                return sock, address

        self.server = Server(("127.0.0.1", 0), Handler)
        if cert is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*cert)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class ProxyProcess:
    """`schoolgate proxy` on a free port, stopped with SIGTERM (and its exit status kept)."""

    def __init__(self, config: Path, cwd: Path, port: int, env: dict[str, str] | None = None,
                 args: tuple[str, ...] = ()) -> None:
        self.port = port
        self.log = cwd / f"proxy-{port}.log"
        full_env = {**os.environ, "SCHOOLGATE_CONFIG": str(config), **(env or {})}
        full_env.pop("SCHOOLGATE_DATABASE_URL", None)
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "deploy.cli", "proxy", *args], cwd=cwd, env=full_env,
                                            stdout=out, stderr=subprocess.STDOUT)
        wait_for_port(port, self.process)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def curl(*args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["curl", "-sS", "--max-time", "10", *args], capture_output=True, text=True,
                          timeout=timeout)


def raw_http(proxy_port: int, request: bytes) -> bytes:
    """Send `request` as-is to the proxy (no client-side URL encoding) and read the whole answer."""
    with socket.create_connection(("127.0.0.1", proxy_port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def served_certificate(proxy_port: int, host: str, port: int, cafile: Path) -> bytes:
    """CONNECT through the proxy and return the DER certificate the TLS server on the other end presented."""
    sock = socket.create_connection(("127.0.0.1", proxy_port), timeout=10)
    try:
        sock.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += sock.recv(1)
        assert answer.startswith(b"HTTP/1.1 200"), answer
        context = ssl.create_default_context(cafile=str(cafile))
        with context.wrap_socket(sock, server_hostname=host) as tls:
            der = tls.getpeercert(binary_form=True)
            assert der is not None
            return der
    finally:
        sock.close()
