#!/usr/bin/env python3
# Puts the recce7 modules of this kit into an MHN or CHN server's consumers (README.md):
#
#   python3 install.py mnemosyne /opt/mnemosyne --config /opt/mnemosyne/mnemosyne.cfg
#   python3 install.py geoloc /opt/hpfeeds/examples/geoloc --config /opt/hpfeeds/geoloc.json
#
# mnemosyne: mnemosyne/recce7.py becomes normalizer/modules/recce7_events.py and
# normalizer/normalizer.py imports it (as it imports the others); --config adds recce7.events to
# the [hpfriends] channels the feed puller subscribes to. geoloc: geoloc/recce7.py becomes
# recce7_processor.py beside geoloc.py, which gets a PROCESSORS entry for recce7.events; --config
# adds the channel to geoloc.json's CHANNELS. Every change is checked first, then written
# atomically; a second run changes nothing. Python 3 or 2.7. Restart the consumer afterwards.
"""Installs the recce7 normalizer into mnemosyne and the recce7 processor into MHN's geoloc."""

from __future__ import absolute_import, print_function

import argparse
import io
import json
import os
import re
import sys
from collections import OrderedDict

from honeypot_channels import write_atomically

KIT = os.path.dirname(os.path.abspath(__file__))
CHANNEL = 'recce7.events'
NORMALIZER_MODULE = 'recce7_events'
PROCESSOR_MODULE = 'recce7_processor'
NORMALIZER_IMPORT = re.compile(r'^from (modules|normalizer\.modules) import (\w+)[ \t]*$',
                               re.MULTILINE)
PROCESSOR_BLOCK = ('# recce7 sensors (recce7 deploy-scripts/mhn/install.py)\n'
                   'from %s import recce7_events\n'
                   "PROCESSORS['%s'] = [recce7_events]\n\n\n" % (PROCESSOR_MODULE, CHANNEL))


class InstallError(Exception):
    """A file this tool cannot change safely: the text says why."""


def add_normalizer_import(text):
    """normalizer.py importing recce7_events after its last module import, in the same style
    (`from modules import ...` in MHN's Python 2 mnemosyne, `from normalizer.modules import ...`
    in CHN's)."""
    imports = list(NORMALIZER_IMPORT.finditer(text))
    if not imports:
        raise InstallError('no "from modules import ..." lines to add recce7_events to')
    if any(match.group(2) == NORMALIZER_MODULE for match in imports):
        return text
    last = imports[-1]
    line = '\nfrom %s import %s' % (last.group(1), NORMALIZER_MODULE)
    return text[:last.end()] + line + text[last.end():]


def add_cfg_channel(text):
    """mnemosyne.cfg with recce7.events in [hpfriends] channels."""
    section, lines, found = None, text.splitlines(True), False
    for number, line in enumerate(lines):
        header = re.match(r'\s*\[([^\]]+)\]', line)
        if header:
            section = header.group(1).strip()
            continue
        setting = re.match(r'(\s*channels\s*[=:]\s*)(.*?)(\s*)$', line, re.DOTALL)
        if section == 'hpfriends' and setting:
            found = True
            channels = [c.strip() for c in setting.group(2).split(',') if c.strip()]
            if CHANNEL not in channels:
                lines[number] = '%s%s%s' % (setting.group(1), ','.join(channels + [CHANNEL]),
                                            setting.group(3) or '\n')
    if not found:
        raise InstallError('no "channels =" line in [hpfriends]')
    return ''.join(lines)


def add_processor(text):
    """geoloc.py with a PROCESSORS entry for recce7.events, set just before main()."""
    if "PROCESSORS['%s']" % CHANNEL in text:
        return text
    main = re.search(r'^def main\(', text, re.MULTILINE)
    if main is None or not re.search(r'^PROCESSORS\s*=', text[:main.start()], re.MULTILINE):
        raise InstallError('no "PROCESSORS = {...}" followed by "def main(" to add recce7 to')
    return text[:main.start()] + PROCESSOR_BLOCK + text[main.start():]


def add_json_channel(text):
    """geoloc.json with recce7.events in CHANNELS (its other settings and order kept)."""
    try:
        config = json.loads(text, object_pairs_hook=OrderedDict)
    except ValueError:
        raise InstallError('not JSON')
    channels = config.get('CHANNELS') if isinstance(config, dict) else None
    if not isinstance(channels, list):
        raise InstallError('no "CHANNELS" list')
    if CHANNEL in channels:
        return text
    channels.append(CHANNEL)
    return json.dumps(config, indent=4, separators=(',', ': ')) + '\n'


def read(path):
    with io.open(path, encoding='utf-8', newline='') as source:
        return source.read()


def plan(consumer, directory, config):
    """[(path, new text, what)] for one consumer; raises InstallError or IOError naming the
    file before anything is written."""
    changes = []

    def edit(path, change, what):
        try:
            changes.append((path, change(read(path)), what))
        except InstallError as err:
            raise InstallError('%s: %s' % (path, err))

    if consumer == 'mnemosyne':
        modules = os.path.join(directory, 'normalizer', 'modules')
        changes.append((os.path.join(modules, NORMALIZER_MODULE + '.py'),
                        read(os.path.join(KIT, 'mnemosyne', 'recce7.py')), 'the normalizer'))
        edit(os.path.join(directory, 'normalizer', 'normalizer.py'), add_normalizer_import,
             'imports it')
        if config:
            edit(config, add_cfg_channel, '[hpfriends] channels has ' + CHANNEL)
    else:
        changes.append((os.path.join(directory, PROCESSOR_MODULE + '.py'),
                        read(os.path.join(KIT, 'geoloc', 'recce7.py')), 'the processor'))
        edit(os.path.join(directory, 'geoloc.py'), add_processor, 'PROCESSORS has ' + CHANNEL)
        if config:
            edit(config, add_json_channel, 'CHANNELS has ' + CHANNEL)
    return changes


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('consumer', choices=('mnemosyne', 'geoloc'))
    parser.add_argument('directory', help='mnemosyne: its top directory (/opt/mnemosyne); '
                        'geoloc: the directory of geoloc.py (/opt/hpfeeds/examples/geoloc)')
    parser.add_argument('--config', help='mnemosyne.cfg, or geoloc.json')
    args = parser.parse_args(argv[1:])
    try:
        changes = plan(args.consumer, args.directory, args.config)
        for path, text, what in changes:
            if os.path.exists(path) and read(path) == text:
                print('%s: unchanged (%s)' % (path, what))
            else:
                write_atomically(path, text)
                print('%s: written (%s)' % (path, what))
    except (InstallError, IOError, OSError, UnicodeError) as err:
        print('install.py: %s' % err, file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
