"""The real IMAP server the fetch tests deliver into: dovecot on loopback, started by
`scripts/dovecot-test.sh start` (CI: .ci/run), named by TEST_IMAP_URL.

Without TEST_IMAP_URL (or with no server behind it) the IMAP tests are skipped and say so;
under CASEAPP_STRICT_TESTS=1 (CI) that skip is a failure. Import the fixtures where needed:
`from tests.services.inbound.imap_server import imap_url, mailbox  # noqa: F401`.
"""
from __future__ import annotations

import os

import pytest
from imapclient import IMAPClient

from caseapp.services.inbound import imap
from tests.conftest import skip_or_fail

START = "scripts/dovecot-test.sh start (needs apt-get install dovecot-imapd)"


class TestMailbox:
    """The test's own connection to the mailbox the fetch reads: delivers with APPEND and
    looks at what is where, as a mail client beside caseapp would."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self, url: str):
        self.box = imap.parse_url(url)
        self.client = IMAPClient(self.box.host, port=self.box.port, ssl=self.box.tls, timeout=10)
        self.client.login(self.box.user, self.box.password)

    def append(self, raw: bytes, folder: str | None = None, flags=()) -> None:
        self.client.append(folder or self.box.folder, raw, flags=flags)

    def uids(self, folder: str | None = None, deleted: bool = True) -> list[int]:
        folder = folder or self.box.folder
        if not self.client.folder_exists(folder):
            return []
        self.client.select_folder(folder, readonly=True)
        return sorted(self.client.search("ALL" if deleted else ["NOT", "DELETED"]))

    def messages(self, folder: str | None = None) -> list[bytes]:
        uids = self.uids(folder)
        if not uids:
            return []
        fetched = self.client.fetch(uids, ["BODY.PEEK[]"])
        return [fetched[uid][b"BODY[]"] for uid in uids]

    def flags(self, folder: str | None = None) -> list[tuple]:
        uids = self.uids(folder)
        fetched = self.client.fetch(uids, ["FLAGS"]) if uids else {}
        return [fetched[uid][b"FLAGS"] for uid in uids]

    def folders(self) -> list[str]:
        return sorted(name for _flags, _sep, name in self.client.list_folders())

    def reset(self) -> None:
        """An empty INBOX and no other folder: each test starts from nothing."""
        self.client.select_folder("INBOX")
        for name in self.folders():
            if name.upper() != "INBOX":
                self.client.delete_folder(name)
        uids = self.client.search("ALL")
        if uids:
            self.client.delete_messages(uids)
            self.client.expunge()

    def close(self) -> None:
        self.client.logout()


@pytest.fixture(scope="session")
def imap_url() -> str:
    url = os.environ.get("TEST_IMAP_URL", "").strip()
    if not url:
        skip_or_fail(f"TEST_IMAP_URL is not set: the IMAP fetch tests need a test server ({START})")
    where = imap.parse_url(url).where
    try:
        TestMailbox(url).close()
    except Exception as error:  # noqa: BLE001 - whatever stops it, the server is not usable
        skip_or_fail(f"no usable IMAP server at {where} ({type(error).__name__}: {error}); {START}")
    return url


@pytest.fixture
def mailbox(app, imap_url):
    """The test server's mailbox, emptied, and the app's INBOUND_IMAP_URL pointing at it."""
    box = TestMailbox(imap_url)
    box.reset()
    app.config["INBOUND_IMAP_URL"] = imap_url
    yield box
    app.config["INBOUND_IMAP_URL"] = ""
    box.reset()
    box.close()
