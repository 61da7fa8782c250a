"""Serve TREE/root over HTTPS on 127.0.0.1:443 with TREE/server.pem and TREE/server.key: the
box side of verification/peer/artifactory.py, run by the box's own python3.

    python3 serve.py TREE
"""

import functools
import http.server
import ssl
import sys


def main() -> None:
    tree = sys.argv[1]
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=f"{tree}/root")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 443), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(f"{tree}/server.pem", f"{tree}/server.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
