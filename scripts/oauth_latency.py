#!/usr/bin/env python3
"""Latency of a GitHub tool call through `gatehouse serve`, next to the
built-in gatehouse__budgets: p50/p99 of N sequential tools/call each, with a
connected account (token cached in memory after the first call, tokens in the
kernel keyring: run without DBUS_SESSION_BUS_ADDRESS) and the GitHub double
of tests/fakes/server.mjs on 127.0.0.1. A measurement, not a test.

    cargo build --release -p gatehouse && bash tests/setup.sh
    python3 scripts/oauth_latency.py target/release/gatehouse 300
"""
import json, os, subprocess, sys, tempfile, time, urllib.parse, urllib.request, http.client, statistics
B = os.path.abspath(sys.argv[1]); N = int(sys.argv[2]) if len(sys.argv) > 2 else 300
tests = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests')
fk = subprocess.Popen(['node', f'{tests}/fakes/server.mjs'], cwd=tests, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
urls = json.loads(fk.stdout.readline())
home = tempfile.mkdtemp(prefix='gh-measure-')
a, g = urls['auth'], urls['github']
open(f'{home}/config.toml', 'w').write(f'''[limits.tool]\nper_minute = 100000\n[limits.agent]\nper_minute = 100000\nper_day = 1000000\n[oauth.github]\nclient_id = "gh-client"\nclient_secret = "s"\nauthorize_url = "{a}/authorize"\ntoken_url = "{a}/token"\napi_base_url = "{g}"\n''')
env = {'GATEHOUSE_HOME': home, 'PATH': os.environ['PATH'], 'HOME': home}
tok = json.loads(subprocess.check_output([B, 'agents', 'add', 'bench', '--json'], env=env))['token']
c = subprocess.Popen([B, 'connect', 'github', '--no-browser', '--json'], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
for line in c.stderr:
    if '/authorize?' in line:
        url = line.strip(); break
u = urllib.parse.urlparse(url)
conn = http.client.HTTPConnection(u.hostname, u.port); conn.request('GET', u.path + '?' + u.query); loc = conn.getresponse().getheader('Location')
urllib.request.urlopen(loc).read(); c.wait(30)
s = subprocess.Popen([B, 'serve'], env={**env, 'GATEHOUSE_TOKEN': tok}, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
i = 0
def rpc(method, params):
    global i; i += 1
    s.stdin.write(json.dumps({'jsonrpc': '2.0', 'id': i, 'method': method, 'params': params}) + '\n'); s.stdin.flush()
    while True:
        m = json.loads(s.stdout.readline())
        if m.get('id') == i: return m
rpc('initialize', {'protocolVersion': '2025-06-18', 'capabilities': {}, 'clientInfo': {'name': 'm', 'version': '1'}})
s.stdin.write(json.dumps({'jsonrpc': '2.0', 'method': 'notifications/initialized'}) + '\n'); s.stdin.flush()
for tool in ['gatehouse__budgets', 'github__list_notifications']:
    for _ in range(20): rpc('tools/call', {'name': tool, 'arguments': {}})
    lat = []
    for _ in range(N):
        t = time.perf_counter(); r = rpc('tools/call', {'name': tool, 'arguments': {}}); lat.append((time.perf_counter() - t) * 1000)
        assert not r['result'].get('isError'), r
    lat.sort()
    print(f'{tool}: n={N} p50={statistics.median(lat):.2f} ms p99={lat[int(N*0.99)-1]:.2f} ms')
s.stdin.close(); s.wait(10)
subprocess.run([B, 'disconnect', 'github'], env=env, stdout=subprocess.DEVNULL)  # delete the kernel-keyring entry
fk.stdin.close(); fk.wait(10)
