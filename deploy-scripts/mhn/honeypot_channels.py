#!/usr/bin/env python3
# The HONEYPOT_CHANNELS entry an MHN or CHN server needs before it registers recce7 sensors: its
# registration answer gives a new sensor the channels of its honeypot type, and an unknown type
# gets none, so the broker would refuse every event the sensor publishes.
#
#   python3 honeypot_channels.py /opt/mhn/server/config.py        (MHN; then restart mhn-uwsgi)
#   python3 honeypot_channels.py CHN-Server/config.py.template    (CHN, before building its image)
#
# Adds the entry when it is missing and leaves the file alone when it is there (run it as often as
# you like); the file is replaced atomically with its mode kept. Python 3 or 2.7.
"""Adds 'recce7': ['recce7.events'] to the HONEYPOT_CHANNELS table of an MHN or CHN config."""

from __future__ import absolute_import, print_function

import ast
import io
import os
import re
import sys
import tempfile

HONEYPOT = 'recce7'
CHANNELS = ['recce7.events']
ENTRY_LINE = "    %r: %r,\n" % (HONEYPOT, CHANNELS)
TABLE_START = re.compile(r'^HONEYPOT_CHANNELS\s*=\s*\{[ \t]*(#[^\n]*)?\n', re.MULTILINE)


class ConfigError(Exception):
    """A config this tool cannot change safely: the text says why."""


def table_in(text):
    """HONEYPOT_CHANNELS of a config as a dict of literals, or None when the file is not Python
    this parser reads (CHN's template has {{PLACEHOLDERS}}, which still parse)."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(target, ast.Name) and target.id == 'HONEYPOT_CHANNELS'
                for target in node.targets):
            try:
                return ast.literal_eval(node.value)
            except ValueError:
                raise ConfigError('HONEYPOT_CHANNELS is not a table of literals')
    return None


def add_entry(text):
    """The config text with the recce7 entry first in HONEYPOT_CHANNELS, and whether it changed.
    Raises ConfigError when the table is missing or names recce7 with other channels."""
    start = TABLE_START.search(text)
    if start is None:
        raise ConfigError('no "HONEYPOT_CHANNELS = {" line')
    table = table_in(text)
    if table is not None and HONEYPOT in table:
        if list(table[HONEYPOT]) != CHANNELS:
            raise ConfigError('HONEYPOT_CHANNELS[%r] is %r, not %r: fix it by hand'
                              % (HONEYPOT, table[HONEYPOT], CHANNELS))
        return text, False
    if table is None and re.search(r'''['"]%s['"]\s*:''' % HONEYPOT, text[start.end():]):
        return text, False
    patched = text[:start.end()] + ENTRY_LINE + text[start.end():]
    if table is not None and table_in(patched).get(HONEYPOT) != CHANNELS:
        raise ConfigError('the patched table does not read back')  # a bug here, never expected
    return patched, True


def write_atomically(path, text):
    """Writes path with text: a temporary file beside it, the old file's mode and owner (a new
    file: mode 0644, readable by the services), then a rename."""
    if not isinstance(text, type(u'')):  # Python 2's json.dumps gives bytes
        text = text.decode('utf-8')
    path = os.path.realpath(path)  # a symlinked config stays a symlink
    old = os.stat(path) if os.path.exists(path) else None
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)),
                                         prefix='.recce7-')
    try:
        with io.open(handle, 'w', encoding='utf-8', newline='') as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, old.st_mode & 0o7777 if old else 0o644)
        if old and (old.st_uid, old.st_gid) != (os.getuid(), os.getgid()):
            os.chown(temporary, old.st_uid, old.st_gid)
        os.rename(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def main(argv):
    if len(argv) != 2 or argv[1].startswith('-'):
        print('usage: honeypot_channels.py CONFIG (MHN: server/config.py, CHN: '
              'config.py.template)', file=sys.stderr)
        return 2
    path = argv[1]
    try:
        with io.open(path, encoding='utf-8', newline='') as config:
            text, changed = add_entry(config.read())
        if changed:
            write_atomically(path, text)
    except (ConfigError, IOError, OSError, UnicodeError) as err:
        print('%s: HONEYPOT_CHANNELS: %s' % (path, err), file=sys.stderr)
        return 1
    print('%s: HONEYPOT_CHANNELS[%r] = %r (%s)'
          % (path, HONEYPOT, CHANNELS, 'added' if changed else 'already there'))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
