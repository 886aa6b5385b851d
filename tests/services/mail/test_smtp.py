"""Mail as the recipient's program reads it back: subjects in any script, one line each."""
import email
from email.policy import default

import pytest

from caseapp.services.mail.smtp import build_message


@pytest.mark.parametrize("subject", [
    "Follow up with Amazon: Harbor Lane, Account suspended (silent 49 h)",
    "Follow up with Amazon: Müller Küchen GmbH, Kündigung – Konto gesperrt (silent 49 h)",
    "Follow up with Amazon: 東京ストア, アカウント停止 (silent 49 h)",
    "Follow up with Amazon: " + "a very long client name " * 8 + "(silent 49 h)",
])
def test_subject_reads_back_as_written(subject):
    raw = build_message("caseapp@example.com", "carl@example.com", subject, "text", "<p>html</p>",
                        "reminder:1:2").as_bytes()
    parsed = email.message_from_bytes(raw, policy=default)
    assert parsed["Subject"] == subject
    assert all(len(line) <= 998 for line in raw.split(b"\n"))


def test_a_line_break_in_a_subject_cannot_add_a_header():
    raw = build_message("caseapp@example.com", "carl@example.com", "Hi\r\nBcc: all@example.com",
                        "text", "<p>html</p>", "reminder:1:2").as_bytes()
    parsed = email.message_from_bytes(raw, policy=default)
    assert parsed["Bcc"] is None and parsed["Subject"] == "Hi Bcc: all@example.com"
