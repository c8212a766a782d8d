"""Normalisation and hashing, with the UID2 docs' own examples (gs-normalization-encoding)."""

from __future__ import annotations

import pytest

from segments.dii import InvalidDii, hash_dii, normalise_email, normalise_phone

GMAIL_HASH = "ku4mBX7Z3qJTXWyLFB1INzkyR2WZGW4ANSJUiW21iI8="


@pytest.mark.parametrize(("raw", "normalised"), [
    pytest.param("MyEmail@example.com", "myemail@example.com", id="lower-case"),
    pytest.param("  user@example.com \t", "user@example.com", id="trim"),
    pytest.param("My.Email@example.com", "my.email@example.com", id="dots-kept-outside-gmail"),
    pytest.param("JaneSaoirse+Work@example.com", "janesaoirse+work@example.com",
                 id="plus-kept-outside-gmail"),
    pytest.param("JANE.SAOIRSE@gmail.com", "janesaoirse@gmail.com", id="gmail-dots"),
    pytest.param("JaneSaoirse+Work@gmail.com", "janesaoirse@gmail.com", id="gmail-plus"),
    pytest.param("j.a.n.e+x+y@GMAIL.COM", "jane@gmail.com", id="gmail-both"),
    pytest.param("jane.doe@googlemail.com", "jane.doe@googlemail.com", id="only-gmail-dot-com"),
])
def test_normalise_email(raw: str, normalised: str) -> None:
    assert normalise_email(raw) == normalised


@pytest.mark.parametrize("raw", [
    pytest.param("", id="empty"), pytest.param("no-at-sign", id="no-at"),
    pytest.param("@example.com", id="no-local"),
    pytest.param("user@", id="no-domain"), pytest.param("a b@example.com", id="inner-space"),
    pytest.param("a@b@example.com", id="two-ats"), pytest.param("+tag@gmail.com", id="gmail-empty-local"),
])
def test_bad_emails_are_refused(raw: str) -> None:
    with pytest.raises(InvalidDii):
        normalise_email(raw)


@pytest.mark.parametrize(("raw", "normalised"), [
    pytest.param("+12345678901", "+12345678901", id="e164"),
    pytest.param("+1 (234) 567-8901", "+12345678901", id="separators-dropped"),
    pytest.param("+65 1243 5678", "+6512435678", id="singapore"),
    pytest.param("+123456789012345", "+123456789012345", id="fifteen-digits"),
])
def test_normalise_phone(raw: str, normalised: str) -> None:
    assert normalise_phone(raw) == normalised


@pytest.mark.parametrize("raw", [
    pytest.param("12345678901", id="no-plus"), pytest.param("+123456789", id="nine-digits"),
    pytest.param("+1234567890123456", id="sixteen-digits"), pytest.param("+1234567890a", id="letter"),
    pytest.param("+١٢٣٤٥٦٧٨٩٠١", id="non-ascii-digits"),
])
def test_bad_phones_are_refused(raw: str) -> None:
    with pytest.raises(InvalidDii):
        normalise_phone(raw)


@pytest.mark.parametrize(("kind", "value", "expected"), [
    pytest.param("email", "user@example.com", ("email_hash", "tMmiiTI7IaAcPpQPFQ65uMVCWH8av9jw4cwf/F5HVRQ="),
                 id="email-doc-example"),
    pytest.param("email", "MYEMAIL@example.com",
                 ("email_hash", "FsGNM28LJQ8OLZB0Us65ZYp07NrovJSGTCMSKnLMJ6U="),
                 id="email-normalised-first"),
    pytest.param("email", "Jane.Saoirse@gmail.com", ("email_hash", GMAIL_HASH), id="gmail"),
    pytest.param("phone", "+12345678901", ("phone_hash", "EObwtHBUqDNZR33LNSMdtt5cafsYFuGmuY4ZLenlue4="),
                 id="phone-doc-example"),
    pytest.param("email_hash", f" {GMAIL_HASH} ", ("email_hash", GMAIL_HASH), id="hash-trimmed"),
    pytest.param("phone_hash", "EObwtHBUqDNZR33LNSMdtt5cafsYFuGmuY4ZLenlue4=",
                 ("phone_hash", "EObwtHBUqDNZR33LNSMdtt5cafsYFuGmuY4ZLenlue4="), id="phone-hash"),
])
def test_hash_dii(kind: str, value: str, expected: tuple[str, str]) -> None:
    assert hash_dii(kind, value) == expected


@pytest.mark.parametrize(("kind", "value"), [
    pytest.param("email_hash", "not base64!", id="not-base64"),
    pytest.param("email_hash", "bm90IGEgaGFzaA==", id="not-32-bytes"),
    pytest.param("email_hash", "b4c9a289323b21a01c3e940f150eb9b8c542587f1abfd8f0e1cc1ffc5e475514",
                 id="hex-not-b64"),
    pytest.param("ifa", "zz-secret-zz", id="unknown-kind"),
])
def test_bad_hashes_are_refused(kind: str, value: str) -> None:
    with pytest.raises(InvalidDii) as caught:
        hash_dii(kind, value)
    assert value not in str(caught.value)  # never echo DII into logs
