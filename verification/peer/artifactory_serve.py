"""Serve TREE/root over HTTPS on 127.0.0.1:443 with TREE/server.pem and TREE/server.key: the
box side of verification/peer/artifactory.py, run by the box's own python3.

    python3 serve.py TREE
"""

import functools
import http.server
import ssl
import sys


class Handler(http.server.SimpleHTTPRequestHandler):
    # Keep-alive, every answer with its length: the client ends the connection, as with a
    # mirror.
    protocol_version = "HTTP/1.1"


class Server(http.server.ThreadingHTTPServer):
    def shutdown_request(self, request):
        # TLS's close_notify before the close: OpenSSL 3 clients (debian13's apt) take a
        # bare close for a truncated answer ("unexpected eof while reading").
        try:
            request.settimeout(5)
            request.unwrap()
        except (OSError, ValueError):
            pass
        super().shutdown_request(request)


def main() -> None:
    tree = sys.argv[1]
    handler = functools.partial(Handler, directory=f"{tree}/root")
    server = Server(("127.0.0.1", 443), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(f"{tree}/server.pem", f"{tree}/server.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
