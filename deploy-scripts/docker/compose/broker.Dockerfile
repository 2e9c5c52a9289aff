# hpfeeds3's broker for deploy-scripts/docker/compose.yaml: the version recce7 is tested against,
# from PyPI, run as an unprivileged user. Its authkeys come from the users.json the compose file
# mounts.
FROM docker.io/library/python:3.12-slim
RUN pip install --no-cache-dir 'hpfeeds[broker]==3.1.0'
USER 65534:65534
EXPOSE 10000
ENTRYPOINT ["hpfeeds-broker"]
