"""Provider connections over TLS. Every worker's websockets share one client
context the supervisor built before forking (worker/tls_client.h): a server
whose certificate chains to the CA store is talked to, any other is refused.
Deepgram here is the emulator behind a TLS terminator with a certificate
from a throwaway CA; the daemon trusts that CA only through SSL_CERT_FILE,
as OpenSSL itself would."""
import os
import subprocess
import sys

import pytest

from harness import free_port
from test_agent import place_call, stack  # noqa: F401  (stack is a fixture)

PROXY = r"""
import asyncio, ssl, sys
lport, tport, cert, key = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cert, key)
async def pipe(r, w):
    try:
        while (d := await r.read(65536)):
            w.write(d)
            await w.drain()
    except Exception:
        pass
    finally:
        w.close()
async def handle(r, w):
    tr, tw = await asyncio.open_connection("127.0.0.1", tport)
    await asyncio.gather(pipe(r, tw), pipe(tr, w))
async def main():
    srv = await asyncio.start_server(handle, "127.0.0.1", lport, ssl=ctx)
    print("ready", flush=True)
    async with srv:
        await srv.serve_forever()
asyncio.run(main())
"""


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, capture_output=True)


@pytest.fixture
def tls_stt(stack, tmp_path):
    """make(trust) -> (daemon, emulators): Deepgram reached over wss://localhost,
    the daemon trusting the terminator's CA or not."""
    d = tmp_path / "pki"
    d.mkdir()
    ca, cakey, crt, key = (str(d / n) for n in ("ca.pem", "ca.key", "srv.pem", "srv.key"))
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", cakey, "-out", ca,
            "-days", "2", "-subj", "/CN=vagent test CA")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", str(d / "srv.csr"),
            "-subj", "/CN=localhost")
    (d / "ext").write_text("subjectAltName=DNS:localhost\n")
    openssl("x509", "-req", "-in", str(d / "srv.csr"), "-CA", ca, "-CAkey", cakey,
            "-CAcreateserial", "-out", crt, "-days", "2", "-extfile", str(d / "ext"))
    procs = []

    def make(trust, script):
        port = free_port()
        if trust:
            os.environ["SSL_CERT_FILE"] = ca
        else:
            os.environ.pop("SSL_CERT_FILE", None)
        daemon, emu = stack(script, sections={"stt": {"url": "wss://localhost:%d/v1/listen"
                                                      % port}})
        px = subprocess.Popen([sys.executable, "-c", PROXY, str(port),
                               str(emu.ports["deepgram"]), crt, key],
                              stdout=subprocess.PIPE, text=True)
        procs.append(px)
        assert px.stdout.readline().strip() == "ready"
        return daemon, emu

    yield make
    os.environ.pop("SSL_CERT_FILE", None)
    for p in procs:
        p.kill()
        p.wait()


def test_a_trusted_server_is_talked_to_over_tls(tls_stt, tmp_path):
    d, emu = tls_stt(True, {"stt": ["Hello there."], "llm": [{"content": "Hello."}]})
    place_call(d, tmp_path, [4.0, "Hello there.", 4.0])
    users = [m["content"] for q in emu.llm_requests() for m in q["messages"]
             if m["role"] == "user"]
    assert users == ["Hello there."], "the caller was heard through the TLS connection"
    assert "SSL" not in d.log_text()


def test_a_server_not_in_the_ca_store_is_refused(tls_stt, tmp_path):
    d, emu = tls_stt(False, {"stt": ["Hello there."], "llm": [{"content": "Hello."}]})
    place_call(d, tmp_path, [4.0, "Hello there.", 4.0])
    d.wait_log("speech-to-text lost for good")
    assert "SSL" in d.log_text()
    assert emu.llm_requests() == [], "nothing the caller said left over an unverified link"
