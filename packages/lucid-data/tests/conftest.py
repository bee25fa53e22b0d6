"""lucid-data tests never reach the internet (only loopback connections are allowed) and
never touch the user's cache: ``LUCID_DATA_HOME`` is a fresh temporary folder per test."""

import socket

import pytest
from lucid.datasets import cifar as cifar_mod

_LOCAL = {"127.0.0.1", "::1", "localhost"}


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch):
    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in _LOCAL:
            raise OSError(f"lucid-data tests may not connect to {address[0]}")
        return real_connect(self, address)

    def getaddrinfo(host, *args, **kwargs):
        if host not in _LOCAL and host is not None:
            raise socket.gaierror(f"lucid-data tests may not resolve {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture(autouse=True)
def _private_data_home(monkeypatch, tmp_path_factory):
    monkeypatch.setenv("LUCID_DATA_HOME", str(tmp_path_factory.mktemp("lucid-data-home")))


@pytest.fixture
def count_cifar_parses(monkeypatch):
    """The folders CIFAR-10 is parsed from during the test (a cache hit parses none)."""
    calls = []
    real = cifar_mod.CifarSpec.parse

    def spy(self, folder):
        calls.append(folder)
        return real(self, folder)

    monkeypatch.setattr(cifar_mod.CifarSpec, "parse", spy)
    return calls
