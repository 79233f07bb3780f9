#!/usr/bin/env python3
"""VXLAN frames for the cluster tests: craft, capture, compare; and a TCX query.

  send     --to IP [--port 8472] --vni N --inner-dst-mac M --inner-src IP --inner-dst IP
           [--inner-dport P] [--payload TEXT]
           one VXLAN datagram from a plain UDP socket (the outer source is the sender's own
           address) carrying Ethernet + IPv4 + UDP; IPv6 addresses: an IPv6 outer header
           (--to) and Ethernet + IPv6 + UDP (inner addresses, UDP checksum set)
  inner    --src IP --dst IP [--sport P] [--dport P] [--id N] [--payload TEXT]
           one IPv4/UDP packet with these exact header fields (raw socket, IP_HDRINCL):
           the same inner packet every time
  udp      --to IP|IPV6 [--port 5555] [--payload TEXT] [--count N]
           plain UDP datagrams (a pod's own traffic)
  listen   --ip IP|IPV6 --port P --seconds S [--until TEXT]
           prints the payloads received, one a line; ends after S seconds or TEXT
  capture  --iface IF [--port 8472] [--src IP] [--count N] [--seconds S] [--lengths]
           VXLAN frames (from outer source IP) seen on IF (AF_PACKET), one hex line each,
           or only their lengths; a GSO packet is seen whole, before segmentation
  capture6 --iface IF [--port 8472] [--src IPV6] [--count N] [--seconds S]
           VXLAN frames over IPv6 seen on IF, one line each: src= dst= dport= vni=
           csum=ok|zero|bad (the outer UDP checksum over the IPv6 pseudo-header)
           inner_dst=<MAC> [inner=tcp|udp|icmpv6 inner_csum=ok|bad: the inner IPv6
           packet's upper-layer checksum]; checksums offloaded by the sender are not final
           on the wire
  compare  A B [--port-range LO HI]
           one frame (hex line) of each: which outer fields are equal, which differ
  tcx-count IFNAME ingress|egress             programs attached by TCX (BPF_PROG_QUERY)
"""
import argparse
import ctypes
import os
import select
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ipv4_udp(src, dst, sport, dport, payload, ident=0x1234, ttl=64):
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), ident, 0x4000, ttl, 17, 0,
                         socket.inet_aton(src), socket.inet_aton(dst))
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return header + udp


def ipv6_udp(src, dst, sport, dport, payload, hop_limit=64):
    saddr, daddr = socket.inet_pton(socket.AF_INET6, src), socket.inet_pton(socket.AF_INET6, dst)
    length = 8 + len(payload)
    pseudo = saddr + daddr + struct.pack("!IxxxB", length, 17)
    udp = struct.pack("!HHHH", sport, dport, length, 0) + payload
    udp = udp[:6] + struct.pack("!H", checksum(pseudo + udp) or 0xFFFF) + udp[8:]
    return struct.pack("!IHBB", 6 << 28, length, 17, hop_limit) + saddr + daddr + udp


def mac_bytes(text):
    return bytes(int(part, 16) for part in text.split(":"))


def cmd_send(args):
    if ":" in args.inner_src:
        inner_ip, ethertype = ipv6_udp(args.inner_src, args.inner_dst, 40000, args.inner_dport,
                                       args.payload.encode()), 0x86DD
    else:
        inner_ip, ethertype = ipv4_udp(args.inner_src, args.inner_dst, 40000, args.inner_dport,
                                       args.payload.encode()), ETH_P_IP
    inner = mac_bytes(args.inner_dst_mac) + mac_bytes(args.inner_src_mac) + \
        struct.pack("!H", ethertype) + inner_ip
    vxlan = struct.pack("!II", 0x08000000, args.vni << 8)
    family = socket.AF_INET6 if ":" in args.to else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        for _ in range(args.count):
            s.sendto(vxlan + inner, (args.to, args.port))


def cmd_udp(args):
    """Plain UDP datagrams (a pod's own traffic, not VXLAN)."""
    family = socket.AF_INET6 if ":" in args.to else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        for _ in range(args.count):
            s.sendto(args.payload.encode(), (args.to, args.port))


def cmd_inner(args):
    packet = ipv4_udp(args.src, args.dst, args.sport, args.dport, args.payload.encode(),
                      ident=args.id)
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW) as s:
        s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
        s.sendto(packet, (args.dst, 0))


def cmd_listen(args):
    family = socket.AF_INET6 if ":" in args.ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.bind((args.ip, args.port))
        print("listening", flush=True)
        deadline = time.monotonic() + args.seconds
        while (left := deadline - time.monotonic()) > 0:
            if select.select([s], [], [], left)[0]:
                data, _ = s.recvfrom(65535)
                print(data.decode(errors="replace"), flush=True)
                if args.until is not None and data.decode(errors="replace") == args.until:
                    return


def vxlan_dport(frame):
    if len(frame) < 50 or struct.unpack("!H", frame[12:14])[0] != ETH_P_IP:
        return None
    if frame[14] >> 4 != 4 or frame[23] != 17:
        return None
    ihl = (frame[14] & 0xF) * 4
    return struct.unpack("!H", frame[14 + ihl + 2:14 + ihl + 4])[0]


def cmd_capture(args):
    src = socket.inet_aton(args.src) if args.src else None
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL)) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        s.bind((args.iface, 0))
        print("capturing", file=sys.stderr, flush=True)
        seen = 0
        deadline = time.monotonic() + args.seconds
        while seen < args.count and (left := deadline - time.monotonic()) > 0:
            if not select.select([s], [], [], left)[0]:
                break
            frame = s.recv(262144)
            if vxlan_dport(frame) != args.port or (src and frame[26:30] != src):
                continue
            print(len(frame) if args.lengths else frame.hex(), flush=True)
            seen += 1


ETH_P_IPV6 = 0x86DD


def ipv6_vxlan_line(frame, port, src):
    """The capture6 line of an Ethernet + IPv6 + UDP + VXLAN frame, or None."""
    if len(frame) < 76 or struct.unpack("!H", frame[12:14])[0] != ETH_P_IPV6:
        return None
    if frame[14] >> 4 != 6 or frame[20] != 17:
        return None
    saddr, daddr, udp = frame[22:38], frame[38:54], frame[54:]
    dport, length, check = struct.unpack("!HHH", udp[2:8])
    if dport != port or (src and saddr != src) or length > len(udp):
        return None
    pseudo = saddr + daddr + struct.pack("!IxxxB", length, 17)
    csum = "zero" if check == 0 else ("ok" if checksum(pseudo + udp[:length]) == 0 else "bad")
    vni = int.from_bytes(udp[12:15], "big")
    inner_dst = ":".join(f"{b:02x}" for b in udp[16:22])
    return (f"src={socket.inet_ntop(socket.AF_INET6, saddr)} "
            f"dst={socket.inet_ntop(socket.AF_INET6, daddr)} dport={dport} vni={vni} "
            f"csum={csum} inner_dst={inner_dst}{inner_ipv6_text(udp[30:length])}")


INNER_PROTOCOLS = {6: "tcp", 17: "udp", 58: "icmpv6"}


def inner_ipv6_text(ip):
    """' inner=<tcp|udp|icmpv6|n> inner_csum=<ok|bad>' for an inner IPv6 packet without
    extension headers (its upper-layer checksum with the pseudo-header), else ''."""
    if len(ip) < 40 or ip[0] >> 4 != 6:
        return ""
    length, nexthdr = struct.unpack("!HB", ip[4:7])
    message = ip[40:40 + length]
    pseudo = ip[8:40] + struct.pack("!IxxxB", length, nexthdr)
    ok = len(message) == length and checksum(pseudo + message) == 0
    return f" inner={INNER_PROTOCOLS.get(nexthdr, nexthdr)} inner_csum={'ok' if ok else 'bad'}"


def cmd_capture6(args):
    src = socket.inet_pton(socket.AF_INET6, args.src) if args.src else None
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL)) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        s.bind((args.iface, 0))
        print("capturing", file=sys.stderr, flush=True)
        seen = 0
        deadline = time.monotonic() + args.seconds
        while seen < args.count and (left := deadline - time.monotonic()) > 0:
            if not select.select([s], [], [], left)[0]:
                break
            line = ipv6_vxlan_line(s.recv(262144), args.port, src)
            if line:
                print(line, flush=True)
                seen += 1


# Outer fields of a VXLAN frame without IP options: (name, offset, length, rule).
# must: equal in both frames; may: may differ (checked separately).
OUTER_FIELDS = [
    ("eth dst", 0, 6, "must"), ("eth src", 6, 6, "must"), ("ethertype", 12, 2, "must"),
    ("ip version/ihl", 14, 1, "must"), ("ip tos", 15, 1, "must"),
    ("ip total length", 16, 2, "must"), ("ip id", 18, 2, "may"),
    ("ip flags/fragment", 20, 2, "must"), ("ip ttl", 22, 1, "must"),
    ("ip protocol", 23, 1, "must"), ("ip checksum", 24, 2, "may"),
    ("ip source", 26, 4, "must"), ("ip destination", 30, 4, "must"),
    ("udp source port", 34, 2, "may"), ("udp destination port", 36, 2, "must"),
    ("udp length", 38, 2, "must"), ("udp checksum", 40, 2, "must"),
    ("vxlan flags+reserved", 42, 4, "must"), ("vxlan vni+reserved", 46, 4, "must"),
]


def cmd_compare(args):
    a = bytes.fromhex(open(args.a).readline().strip())
    b = bytes.fromhex(open(args.b).readline().strip())
    problems = []
    print(f"{'field':22} {'A':>20} {'B':>20}  rule")
    for name, offset, length, rule in OUTER_FIELDS:
        fa, fb = a[offset:offset + length], b[offset:offset + length]
        print(f"{name:22} {fa.hex():>20} {fb.hex():>20}  {rule}"
              f"{'' if fa == fb else ' (differ)'}")
        if rule == "must" and fa != fb:
            problems.append(f"{name} differs: {fa.hex()} vs {fb.hex()}")
    inner_equal = a[50:] == b[50:]
    print(f"{'inner frame':22} {len(a) - 50:>17} B {len(b) - 50:>17} B  must"
          f"{'' if inner_equal else ' (differ)'}")
    if not inner_equal:
        problems.append(f"inner frames differ: {a[50:].hex()} vs {b[50:].hex()}")
    for label, frame in (("A", a), ("B", b)):
        if checksum(frame[14:34]) != 0:
            problems.append(f"{label}: outer IPv4 checksum invalid")
        sport = struct.unpack("!H", frame[34:36])[0]
        if not args.port_range[0] <= sport <= args.port_range[1]:
            problems.append(f"{label}: UDP source port {sport} outside {args.port_range}")
    for problem in problems:
        print("MISMATCH:", problem)
    return 1 if problems else 0


class QueryAttr(ctypes.Structure):
    _fields_ = [("target_ifindex", ctypes.c_uint32), ("attach_type", ctypes.c_uint32),
                ("query_flags", ctypes.c_uint32), ("attach_flags", ctypes.c_uint32),
                ("prog_ids", ctypes.c_uint64), ("prog_cnt", ctypes.c_uint32),
                ("pad", ctypes.c_uint32), ("prog_attach_flags", ctypes.c_uint64),
                ("link_ids", ctypes.c_uint64), ("link_attach_flags", ctypes.c_uint64),
                ("revision", ctypes.c_uint64)]


def cmd_tcx_count(args):
    sys_bpf, bpf_prog_query = 321, 16  # x86_64
    attach_type = {"ingress": 46, "egress": 47}[args.direction]  # BPF_TCX_*
    attr = QueryAttr(target_ifindex=socket.if_nametoindex(args.ifname), attach_type=attach_type)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(sys_bpf, bpf_prog_query, ctypes.byref(attr), ctypes.sizeof(attr)) != 0:
        raise OSError(ctypes.get_errno(), "BPF_PROG_QUERY " + args.ifname)
    print(attr.prog_cnt)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("send")
    p.add_argument("--to", required=True)
    p.add_argument("--port", type=int, default=8472)
    p.add_argument("--vni", type=int, default=1)
    p.add_argument("--inner-dst-mac", required=True)
    p.add_argument("--inner-src-mac", default="0e:00:5e:00:00:01")
    p.add_argument("--inner-src", required=True)
    p.add_argument("--inner-dst", required=True)
    p.add_argument("--inner-dport", type=int, default=5555)
    p.add_argument("--payload", default="forged")
    p.add_argument("--count", type=int, default=1)
    p.set_defaults(run=cmd_send)
    p = sub.add_parser("udp")
    p.add_argument("--to", required=True)
    p.add_argument("--port", type=int, default=5555)
    p.add_argument("--payload", default="udp")
    p.add_argument("--count", type=int, default=1)
    p.set_defaults(run=cmd_udp)
    p = sub.add_parser("inner")
    p.add_argument("--src", required=True)
    p.add_argument("--dst", required=True)
    p.add_argument("--sport", type=int, default=40000)
    p.add_argument("--dport", type=int, default=5555)
    p.add_argument("--id", type=lambda v: int(v, 0), default=0x1234)
    p.add_argument("--payload", default="same inner packet")
    p.set_defaults(run=cmd_inner)
    p = sub.add_parser("listen")
    p.add_argument("--ip", required=True)
    p.add_argument("--port", type=int, default=5555)
    p.add_argument("--seconds", type=float, default=3)
    p.add_argument("--until")
    p.set_defaults(run=cmd_listen)
    p = sub.add_parser("capture")
    p.add_argument("--iface", required=True)
    p.add_argument("--port", type=int, default=8472)
    p.add_argument("--src")
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--seconds", type=float, default=5)
    p.add_argument("--lengths", action="store_true")
    p.set_defaults(run=cmd_capture)
    p = sub.add_parser("capture6")
    p.add_argument("--iface", required=True)
    p.add_argument("--port", type=int, default=8472)
    p.add_argument("--src")
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--seconds", type=float, default=5)
    p.set_defaults(run=cmd_capture6)
    p = sub.add_parser("compare")
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--port-range", type=int, nargs=2, default=[1, 65535])
    p.set_defaults(run=cmd_compare)
    p = sub.add_parser("tcx-count")
    p.add_argument("ifname")
    p.add_argument("direction", choices=["ingress", "egress"])
    p.set_defaults(run=cmd_tcx_count)
    args = parser.parse_args()
    sys.exit(args.run(args) or 0)


if __name__ == "__main__":
    main()
