# The app's own code: says whether its dependency was already imported (by the warm standby).
import os
import sys

preloaded = "heavy" in sys.modules
import heavy  # noqa: E402,F401
import appsettings  # noqa: E402
from http.server import BaseHTTPRequestHandler, HTTPServer  # noqa: E402

VERSION = "v1"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"{VERSION} preloaded={str(preloaded).lower()} pythonpath={os.environ.get('PYTHONPATH', '')} setting={appsettings.VALUE}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
