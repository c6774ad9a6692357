#!/usr/bin/env python3
# A stand-in for virqd's control socket that answers from canned replies: tests of
# virqctl's rendering that need VMs this host cannot run (no /dev/kvm). Protocol v1
# framing (include/virq/proto.h): one JSON object per line. Usage:
#   fake_daemon.py SOCKET REPLIES.json   (REPLIES: {"<cmd>" or "<cmd> <vm>": result})
import json
import os
import socket
import sys

path, replies = sys.argv[1], json.load(open(sys.argv[2]))
if os.path.exists(path):
    os.unlink(path)
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(4)
while True:
    conn, _ = srv.accept()
    buf = b""
    with conn:
        while True:
            data = conn.recv(65536)
            if not data:
                break
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                req = json.loads(line)
                vm = (req.get("args") or {}).get("vm")
                key = req["cmd"] + (" " + str(vm) if vm is not None else "")
                if key in replies:
                    rep = {"v": 1, "id": req.get("id"), "result": replies[key]}
                else:
                    rep = {"v": 1, "id": req.get("id"),
                           "error": {"code": "not_found", "message": "no " + key}}
                conn.sendall(json.dumps(rep).encode() + b"\n")
