#!/usr/bin/env python3
"""Frames a pod with CAP_NET_RAW could send, for tests/cluster/security_node.sh.

  udp      --iface IF --dst-mac M --src IP --dst IP --dport P [--payload TEXT]
           [--vxlan-inner-dst-mac M --vxlan-inner-src IP --vxlan-inner-dst IP]
           one Ethernet/IPv4/UDP frame out of IF (AF_PACKET), from IF's own MAC, with any
           source address and any destination (127.0.0.1 too, which the sender's own routing
           would keep at home); with the --vxlan-* options the payload is a VXLAN frame (VNI
           1) carrying IPv4/UDP to port 5555 with the text, as vxlan_frames.py send makes it
  trickle  --host IP --port P [--gap S] [--seconds S]
           connects and sends "GET /healthz HTTP/1.0\\r\\n" one byte every GAP seconds;
           prints "closed after N bytes" when the server hangs up first, else "sent all"
"""
import argparse
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vxlan_frames import ETH_P_IP, ipv4_udp, mac_bytes  # noqa: E402


def cmd_udp(args):
    payload = args.payload.encode()
    if args.vxlan_inner_src:
        inner = mac_bytes(args.vxlan_inner_dst_mac) + mac_bytes("0e:00:5e:00:00:01") + \
            ETH_P_IP.to_bytes(2, "big") + \
            ipv4_udp(args.vxlan_inner_src, args.vxlan_inner_dst, 40000, 5555, payload)
        payload = (0x08000000).to_bytes(4, "big") + (1 << 8).to_bytes(4, "big") + inner
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
        s.bind((args.iface, 0))
        own = s.getsockname()[4]
        frame = mac_bytes(args.dst_mac) + own + ETH_P_IP.to_bytes(2, "big") + \
            ipv4_udp(args.src, args.dst, 40000, args.dport, payload)
        s.send(frame)


def cmd_trickle(args):
    request = b"GET /healthz HTTP/1.0\r\n"
    with socket.create_connection((args.host, args.port), timeout=5) as s:
        s.setblocking(False)
        deadline = time.monotonic() + args.seconds
        for sent, byte in enumerate(request):
            if time.monotonic() > deadline:
                break
            try:
                if s.recv(1024) == b"":
                    print(f"closed after {sent} bytes")
                    return
            except BlockingIOError:
                pass
            except ConnectionResetError:
                print(f"closed after {sent} bytes")
                return
            try:
                s.send(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                print(f"closed after {sent} bytes")
                return
            time.sleep(args.gap)
    print("sent all")


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("udp")
    p.add_argument("--iface", required=True)
    p.add_argument("--dst-mac", required=True)
    p.add_argument("--src", required=True)
    p.add_argument("--dst", required=True)
    p.add_argument("--dport", type=int, required=True)
    p.add_argument("--payload", default="raw")
    p.add_argument("--vxlan-inner-dst-mac")
    p.add_argument("--vxlan-inner-src")
    p.add_argument("--vxlan-inner-dst")
    p = sub.add_parser("trickle")
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--gap", type=float, default=0.3)
    p.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    {"udp": cmd_udp, "trickle": cmd_trickle}[args.cmd](args)


if __name__ == "__main__":
    main()
