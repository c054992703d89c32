#!/usr/bin/python3
"""A test FTP server on 127.0.0.1 (Debian's python3-pyftpdlib), with the
misbehaviours the fetch tests need. It writes the port it listens on to
--port-file once ready, and every command it receives to --log.

  --no-pasv          PASV and EPSV answered 502 (only active mode works)
  --no-epsv          EPSV answered 502 (the client must use PASV)
  --masquerade ADDR  the 227 reply names ADDR instead of 127.0.0.1
  --stall NAME       RETR NAME is never answered
  --no-size          SIZE answered 502 (the size is not known in advance)
"""
import argparse
import logging
import os
import sys

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--user", action="append", default=[], help="NAME:PASSWORD")
    ap.add_argument("--no-pasv", action="store_true")
    ap.add_argument("--no-epsv", action="store_true")
    ap.add_argument("--masquerade")
    ap.add_argument("--passive-ports")
    ap.add_argument("--stall")
    ap.add_argument("--no-size", action="store_true")
    a = ap.parse_args()

    auth = DummyAuthorizer()
    auth.add_anonymous(a.root, perm="elr")
    for u in a.user:
        name, pw = u.split(":", 1)
        auth.add_user(name, pw, a.root, perm="elr")
    log = open(a.log, "a", buffering=1)

    class Handler(FTPHandler):
        authorizer = auth
        timeout = 60
        if a.masquerade:
            masquerade_address = a.masquerade
        if a.passive_ports:
            lo, hi = a.passive_ports.split("-")
            passive_ports = range(int(lo), int(hi) + 1)

        def pre_process_command(self, line, cmd, arg):
            log.write(line + "\n")
            if (cmd == "EPSV" and (a.no_epsv or a.no_pasv)) or (cmd == "PASV" and a.no_pasv):
                self.respond("502 Passive mode refused by this test server.")
                return
            if cmd == "SIZE" and a.no_size:
                self.respond("502 SIZE refused by this test server.")
                return
            if cmd == "RETR" and a.stall and arg == a.stall:
                return  # never answered: the client must give up by itself
            return super().pre_process_command(line, cmd, arg)

    logging.basicConfig(level=logging.WARNING)
    server = FTPServer(("127.0.0.1", a.port), Handler)
    port = server.socket.getsockname()[1]
    with open(a.port_file + ".tmp", "w") as f:
        f.write("%d\n" % port)
    os.rename(a.port_file + ".tmp", a.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
