"""Settings shared by the libtorrent scripts of the benchmarks (bench/lab,
bench/transfer); package ltpy writes this file next to them.

loopback(port) is the part of a session's settings that keeps libtorrent on
127.0.0.1, the loopback settings of /work/shared/INTEROP.md: it listens on
127.0.0.1:port (0: any port) and connects from 127.0.0.1, over TCP only (no
uTP), with no DHT, LSD, UPnP or NAT-PMP, and accepts several connections from
one IP, since every peer of a benchmark is 127.0.0.1.
"""


def loopback(port):
    return {
        "listen_interfaces": "127.0.0.1:%d" % port,
        "outgoing_interfaces": "127.0.0.1",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_incoming_utp": False,
        "enable_outgoing_utp": False,
        "allow_multiple_connections_per_ip": True,
    }
