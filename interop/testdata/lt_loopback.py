"""Settings shared by the libtorrent scripts of the interop tests.

dht_session_settings(port, bootstrap) is a libtorrent session on 127.0.0.1
with its DHT on: local-address routing restrictions off (or it keeps one
node per IP and refuses loopback nodes), its per-IP packet limit
(dht_block_ratelimit, 5/s) lifted since every node here is 127.0.0.1,
announces every 5 s, and no LSD, UPnP or NAT-PMP.
"""
import sys, time


def dht_session_settings(port, bootstrap):
    return {
        "listen_interfaces": f"127.0.0.1:{port}",
        "outgoing_interfaces": "127.0.0.1",
        "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
        "enable_dht": True,
        "dht_bootstrap_nodes": bootstrap,
        "dht_restrict_routing_ips": False,
        "dht_restrict_search_ips": False,
        "dht_prefer_verified_node_ids": False,
        "dht_enforce_node_id": False,
        "dht_ignore_dark_internet": False,
        "dht_block_ratelimit": 100000,
        "dht_announce_interval": 5,
        "allow_multiple_connections_per_ip": True,
    }


def wait_dht(ses, limit=10):
    """Waits until the session's DHT runs, then prints "listening PORT";
    exits 1 after limit seconds."""
    start = time.time()
    while not ses.is_dht_running():
        if time.time() - start > limit:
            print("dht did not start", flush=True)
            sys.exit(1)
        time.sleep(0.05)
    print("listening", ses.listen_port(), flush=True)
