"""Raw RFC 5322 bytes -> ParsedMail: headers, bodies, attachments, auto-reply and bounce signals.

Pure Python, no Django. Speed matters (the whole ingest pipeline must do >= 1,000 plain mails/s), so:
the stdlib parser runs with the fast compat32 policy (policy.default is ~10x slower), headers are decoded
here with our own tolerant RFC 2047/2231 code, and only the parts we keep are decoded. Hard limits (MIME
depth, number of parts, HTML size, a wall-clock budget) turn hostile input into MailTooComplex instead of
a stalled mailbox. Anything else that goes wrong inside becomes MailParseError: callers only ever see those.
"""

# ruff: noqa: RUF001 -- Cyrillic and Polish letters in patterns and samples are the point

from __future__ import annotations

import binascii
import codecs
import dataclasses
import datetime as dt
import email.feedparser
import email.message
import email.utils
import functools
import hashlib
import html as html_lib
import re
import time
import urllib.parse
from dataclasses import dataclass
from email.message import Message
from email.policy import compat32

import nh3

from opiekun.inboxes.drivers.email.language import guess_language

# --- limits ------------------------------------------------------------------------------------------

MAX_DEPTH = 30  # MIME nesting (multipart and message/rfc822 levels)
MAX_PARTS = 500  # MIME parts in one mail
MAX_CONTAINERS = 300  # multipart/message declarations seen by the cheap pre-scan
MAX_HTML_CHARS = 3_000_000  # HTML handed to nh3 / the text converter
MAX_HTML_TAGS = 60_000
MAX_REFERENCES = 100
_FEED_CHUNK = 1 << 20


class MailParseError(Exception):
    """Fatal: the bytes are not a mail at all (the message says why)."""


class MailTooComplex(MailParseError):
    """Cut off by the time limit or by the nesting/part/HTML limits."""


@dataclass(frozen=True)
class MailAddress:
    name: str  # decoded display name ('' when none)
    email: str  # lower-cased addr-spec; '' when the header could not be parsed into one


@dataclass(frozen=True)
class ParsedAttachment:
    filename: str  # real decoded name, or a made-up one ("attachment-1.bin", "<subject>.eml")
    content: bytes
    content_type: str  # as declared, lower-case
    content_id: str = ""  # without <>
    inline: bool = False  # referenced by the HTML body (cid:), not shown as a separate file


@dataclass(frozen=True)
class Bounce:
    original_message_id: str  # Message-ID of the mail that bounced, without <> ('' if unknown)
    recipient: str  # the failed address, lower-case
    status: str  # "5.1.1" etc. ('' if unknown)
    diagnostic: str  # human-readable reason, short
    permanent: bool  # 5.x.x -> True, 4.x.x (delayed) -> False


@dataclass(frozen=True)
class ParsedMail:
    message_id: str
    in_reply_to: str
    references: tuple[str, ...]
    subject: str
    sender: MailAddress
    reply_to: tuple[MailAddress, ...]
    to: tuple[MailAddress, ...]
    cc: tuple[MailAddress, ...]
    delivered_to: tuple[str, ...]
    date: dt.datetime | None
    text: str
    html: str
    attachments: tuple[ParsedAttachment, ...]
    auto_submitted: bool
    auto_reason: str
    bounce: Bounce | None
    language: str
    defects: tuple[str, ...] = ()


# --- charsets ----------------------------------------------------------------------------------------

# Labels real mailers use that Python does not know, or knows as a narrower charset than the one meant.
_CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "gb_2312-80": "gb18030",
    "cn-gb": "gb18030",
    "euc-cn": "gb18030",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "euc-kr": "cp949",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "windows-31j": "cp932",
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-6-i": "iso-8859-6",
    "ansi_x3.4-1968": "ascii",
    "us-ascii": "ascii",
    "unicode-1-1-utf-8": "utf-8",
    "unicode-1-1-utf-7": "utf-7",
    "x-unicode-2-0-utf-7": "utf-7",
    "utf8": "utf-8",
    "x-user-defined": "latin-1",
    "iso-8859-1": "cp1252",  # what browsers do: the C1 range is Windows-1252 in practice
    "latin1": "cp1252",
    "iso_8859-1": "cp1252",
    "macintosh": "mac-roman",
    "x-mac-roman": "mac-roman",
    "x-mac-cyrillic": "mac-cyrillic",
    "cp-1250": "cp1250",
    "cp-1251": "cp1251",
    "cp-1252": "cp1252",
    "win-1250": "cp1250",
    "win-1251": "cp1251",
    "windows-1258": "cp1258",
}
_UNKNOWN_LABELS = {"unknown-8bit", "x-unknown", "unknown", "default", "charset", "8bit", "none", ""}
# Single-byte labels that are often a lie for UTF-8 text.
_WEAK_CODECS = {"ascii", "cp1252", "latin-1", "iso8859-1", "iso8859-15", "cp1250", "iso8859-2"}
_SEVEN_BIT_CODECS = {
    "iso2022_jp",
    "iso2022_jp_2",
    "iso2022_jp_ext",
    "iso2022_jp_3",
    "iso2022_kr",
    "utf-7",
    "hz",
}
_CODEC_RETRIES = {
    "iso2022_jp": ("iso2022_jp_ext", "iso2022_jp_2", "iso2022_jp_3", "cp932"),
    "cp1252": ("latin-1",),
    "cp1250": ("iso-8859-2", "latin-1"),
    "cp1251": ("koi8-r", "latin-1"),
    "gb18030": ("big5", "cp950"),
    "big5": ("cp950", "gb18030"),
}


@functools.lru_cache(maxsize=256)
def _codec(label: str | None) -> str | None:
    """Python codec name for a charset label, or None when the label means nothing usable."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    name = name.split("*", 1)[0]  # RFC 2231 language suffix: utf-8*pl
    if name in _UNKNOWN_LABELS:
        return None
    name = _CHARSET_ALIASES.get(name, name)
    for candidate in (name, name.removeprefix("x-"), name.replace("_", "-")):
        try:
            return codecs.lookup(candidate).name
        except (LookupError, ValueError):
            continue
    return None


def _guess_decode(data: bytes) -> str | None:
    """charset-normalizer as the last resort (slow, so only for bytes nothing else could decode)."""
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(data[:16384]).best()
        if best is None or not best.encoding:
            return None
        return data.decode(best.encoding, "replace")
    except Exception:
        return None


def _decode_bytes(data: bytes, label: str | None, defects: list[str], where: str) -> str:
    """Decode text bytes in their declared charset, surviving missing, unknown and mislabelled ones."""
    codec = _codec(label)
    if data.isascii() and codec not in _SEVEN_BIT_CODECS:
        if b"\x1b$" in data or b"\x1b(" in data:
            codec = "iso2022_jp"  # ISO-2022-JP escapes with a missing or wrong label
        else:
            return data.decode("ascii")
    if label and codec is None and label.strip().lower() not in _UNKNOWN_LABELS:
        defects.append(f"{where}: unknown charset {label.strip()[:40]!r}")
    if codec is None or codec in _WEAK_CODECS:
        # The most common lie: UTF-8 labelled as ASCII/Latin-1 or not labelled at all.
        try:
            text = data.decode("utf-8")
            if codec is not None and codec != "ascii":
                defects.append(f"{where}: declared {label} but is UTF-8")
            return text
        except UnicodeDecodeError:
            pass
    if codec is not None and codec != "ascii":
        try:
            return data.decode(codec)
        except (UnicodeDecodeError, LookupError):
            pass
        for alternative in _CODEC_RETRIES.get(codec, ()):
            try:
                text = data.decode(alternative)
                defects.append(f"{where}: not valid {label}, read as {alternative}")
                return text
            except (UnicodeDecodeError, LookupError):
                continue
        if codec == "utf-8":
            text = data.decode("utf-8", "replace")
            bad = text.count("\ufffd")
            # A few broken sequences in otherwise good UTF-8: keep it; mostly broken: it is something else.
            if bad <= 3 or bad * 10 <= len(data) - len(data.decode("ascii", "ignore")):
                defects.append(f"{where}: invalid UTF-8 sequences replaced")
                return text
    guessed = _guess_decode(data)
    if guessed is not None:
        defects.append(f"{where}: charset guessed")
        return guessed
    defects.append(f"{where}: undecodable bytes replaced")
    return data.decode(codec or "utf-8", "replace")


def _unescape_surrogates(value: str, label: str | None, defects: list[str], where: str) -> str:
    """compat32 keeps raw 8-bit header bytes as surrogates; turn them into real text."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        raw = value.encode("ascii", "surrogateescape")
        return _decode_bytes(raw, label or "utf-8", defects, where)


# --- RFC 2047 encoded words -------------------------------------------------------------------------

_ENCODED_WORD = re.compile(r"=\?([^?\s]{1,60})\?([QqBb])\?([^?]*)\?=")
_FOLD = re.compile(r"\r?\n(?=[ \t])")


def _b_decode(payload: str) -> bytes:
    data = payload.strip().encode("ascii", "ignore")
    data += b"=" * (-len(data) % 4)
    try:
        return binascii.a2b_base64(data)
    except (binascii.Error, ValueError):
        data = data.rstrip(b"=")
        while data:
            try:
                return binascii.a2b_base64(data[: len(data) - len(data) % 4])
            except (binascii.Error, ValueError):
                data = data[:-1]
        return b""


def _q_decode(payload: str) -> bytes:
    return binascii.a2b_qp(payload.encode("ascii", "surrogateescape"), header=True)


def decode_words(value: str, defects: list[str] | None = None, where: str = "header") -> str:
    """Decode RFC 2047 words; adjacent words of one charset are joined as bytes first (split characters)."""
    if "=?" not in value:
        return value
    sink: list[str] = defects if defects is not None else []
    out: list[str] = []
    pending = bytearray()
    pending_charset = ""
    pos = 0
    last_was_word = False

    def flush() -> None:
        nonlocal pending, pending_charset
        if pending_charset:
            out.append(_decode_bytes(bytes(pending), pending_charset, sink, where))
        pending = bytearray()
        pending_charset = ""

    for match in _ENCODED_WORD.finditer(value):
        between = value[pos : match.start()]
        if between and not (last_was_word and between.isspace()):
            flush()
            out.append(between)
        charset = match.group(1).split("*", 1)[0].lower()
        encoded = match.group(3)
        data = _q_decode(encoded) if match.group(2) in "Qq" else _b_decode(encoded)
        if pending_charset and charset != pending_charset:
            flush()
        pending += data
        pending_charset = charset
        pos = match.end()
        last_was_word = True
    flush()
    out.append(value[pos:])
    return "".join(out)


def _clean_header(value: str) -> str:
    value = _FOLD.sub("", value)
    if "\n" in value or "\r" in value or "\t" in value:
        value = value.replace("\r", "").replace("\n", "").replace("\t", " ")
    return value


def decode_header(value: str | None, defects: list[str], where: str, label: str | None = None) -> str:
    """A header value as text: unfolded, 8-bit bytes decoded, encoded words decoded, stripped."""
    if not value:
        return ""
    text = _unescape_surrogates(_clean_header(str(value)), label, defects, where)
    if "\x1b" in text:
        text = _decode_bytes(text.encode("utf-8", "replace"), "iso-2022-jp", defects, where)
    text = decode_words(text, defects, where)
    return text.replace("\x00", "").strip()


# --- MIME parameters (RFC 2045 + RFC 2231) ---------------------------------------------------------

_PARAM = re.compile(
    r"""\s*([^\s=;"]+)\s*=\s*("(?:[^"\\]|\\.)*"?|[^;]*)""",
    re.S,
)


def _split_params(value: str) -> tuple[str, dict[str, str]]:
    """'text/plain; charset="x"; name*0*=...' -> ('text/plain', {'charset': 'x', 'name': ...}), tolerant."""
    main, _, rest = value.partition(";")
    raw: dict[str, str] = {}
    continuations: dict[str, dict[int, tuple[str, bool]]] = {}
    for match in _PARAM.finditer(rest):
        key = match.group(1).lower().rstrip(";")
        val = match.group(2).strip()
        if val.startswith('"'):
            val = val[1:-1] if val.endswith('"') and len(val) > 1 else val[1:]
            val = re.sub(r"\\(.)", r"\1", val) if "\\" in val else val
        if "*" in key:
            base, _, suffix = key.partition("*")
            encoded = suffix.endswith("*") or suffix == ""
            number = suffix.rstrip("*")
            index = int(number) if number.isdigit() else 0
            continuations.setdefault(base, {})[index] = (val, encoded)
        elif key not in raw:
            raw[key] = val
    for base, pieces in continuations.items():
        ordered = [pieces[i] for i in sorted(pieces)]
        raw[base] = _rfc2231_join(ordered)
    return main.strip().lower(), raw


def _rfc2231_join(pieces: list[tuple[str, bool]]) -> str:
    charset = ""
    data = bytearray()
    for i, (val, encoded) in enumerate(pieces):
        if encoded:
            if i == 0 and val.count("'") >= 2:
                charset, _, val = val.split("'", 2)
                charset = charset or "utf-8"
            data += _percent_decode(val)
        else:
            data += val.encode("utf-8", "surrogateescape")
    return _decode_bytes(bytes(data), charset or "utf-8", [], "parameter")


def _percent_decode(text: str) -> bytes:
    out = bytearray()
    raw = text.encode("utf-8", "surrogateescape")
    i = 0
    while i < len(raw):
        c = raw[i]
        if c == 0x25 and i + 2 < len(raw) + 0 and _is_hex(raw[i + 1 : i + 3]):
            out.append(int(raw[i + 1 : i + 3], 16))
            i += 3
        else:
            out.append(c)
            i += 1
    return bytes(out)


def _is_hex(pair: bytes) -> bool:
    return len(pair) == 2 and all(c in b"0123456789abcdefABCDEF" for c in pair)


# --- addresses ---------------------------------------------------------------------------------------

_ADDR_IN_TEXT = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
_VALID_ADDR = re.compile(r"[^@\s<>\"(),;:]+@[^@\s<>\"(),;:]+")


_DAEMON_LOCAL = re.compile(r"^(?:mailer-daemon|postmaster|mail-daemon)$", re.I)
_ENCODED_PREFIX = re.compile(r"^=\?[^?]*\?[QqBb]\?")


def _repair_address(addr: str) -> str:
    """Make an addr-spec of what broken mailers write: spaces, quotes, stray brackets, encoded words."""
    addr = addr.strip().strip("<>").strip()
    if "=?" in addr and "@" in addr:
        local, _, domain = addr.rpartition("@")
        decoded = decode_words(local)
        if "=?" in decoded:
            decoded = _ENCODED_PREFIX.sub("", decoded).removesuffix("?=")
        # an encoded word must never smuggle in another domain (=?utf-8?q?x=40evil.com?=@good)
        addr = f"{decoded}@{domain}" if "@" not in decoded else f"{local}@{domain}"
    if _VALID_ADDR.fullmatch(addr):
        return addr.lower()
    squeezed = re.sub(r"[\s\"<>]", "", addr)
    if _VALID_ADDR.fullmatch(squeezed):
        return squeezed.lower()
    if _DAEMON_LOCAL.match(squeezed):
        return squeezed.lower()  # old bounces: "From: MAILER-DAEMON" without a domain
    found = _ADDR_IN_TEXT.search(addr)
    return found.group(0).lower() if found else ""


_BRACKETED = re.compile(r"""(?:^|,)\s*("(?:[^"\\]|\\.)*"|[^,<"]*?)\s*<([^<>]*)>""")


# The forms nearly every mail uses: 'a@b.c', 'Name <a@b.c>', '"Name, X" <a@b.c>', and lists of them.
# email.utils.getaddresses costs ~25 us an address; for these forms its answer is plain to read off.
_SIMPLE_ADDR = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
_ATOM = r"[^\s()<>@,:;.\"\[\]\\]+"  # what the stdlib takes for one word of a display name
_SIMPLE_FORM = re.compile(
    r"[ \t]*(?:(" + _SIMPLE_ADDR + r")"
    r"|(?:\"([^\"\\<>]*)\"|(" + _ATOM + r"(?:[ \t]+" + _ATOM + r")*))?[ \t]*<(" + _SIMPLE_ADDR + r")>)[ \t]*"
)


def _simple_address_pairs(text: str) -> list[tuple[str, str]] | None:
    """getaddresses' answer for the common forms, or None (then ask getaddresses)."""
    pieces = [text] if '"' in text else text.split(",")
    pairs: list[tuple[str, str]] = []
    for piece in pieces:
        match = _SIMPLE_FORM.fullmatch(piece)
        if match is None:
            return None
        bare, quoted, words, bracketed = match.groups()
        if bare is not None:
            pairs.append(("", bare))
        else:
            pairs.append((quoted if quoted is not None else " ".join((words or "").split()), bracketed))
    return pairs


def _address_pairs(text: str) -> list[tuple[str, str]]:
    simple = _simple_address_pairs(text)
    if simple is not None:
        return simple
    return _address_pairs_stdlib(text)


def _address_pairs_stdlib(text: str) -> list[tuple[str, str]]:
    try:
        pairs = email.utils.getaddresses([text])
    except Exception:
        pairs = []
    if "<" in text:
        # getaddresses gets lost on an unquoted address used as a display name ("a@x <b@y>")
        bracketed = [m.group(2).strip().lower() for m in _BRACKETED.finditer(text)]
        got = [addr.strip().lower() for _, addr in pairs if addr]
        if bracketed and (not set(bracketed) <= set(got) or len(got) > text.count(",") + 1):
            return [(m.group(1).strip().strip('"'), m.group(2)) for m in _BRACKETED.finditer(text)]
    return pairs


def _parse_addresses(raw: str | None, defects: list[str], where: str) -> list[MailAddress]:
    if not raw:
        return []
    text = _unescape_surrogates(_clean_header(str(raw)), None, defects, where)
    # Parse before decoding encoded words: a decoded name may contain commas and quotes.
    result: list[MailAddress] = []
    for name, addr in _address_pairs(text):
        email_addr = _repair_address(addr) if addr else ""
        if not email_addr and not name:
            continue
        if email_addr and email_addr != addr.strip().strip("<>").lower():
            defects.append(f"{where}: malformed address repaired")
        if not email_addr and "@" in name:
            email_addr = _repair_address(name)
        display = decode_words(name, defects, where).strip().strip('"').strip()
        if display.lower() == email_addr:
            display = ""
        result.append(MailAddress(name=display, email=email_addr))
    if not any(a.email for a in result) and "@" in text:
        repaired = _repair_address(re.sub(r'.*<|>.*|"', "", text) if "<" in text else text)
        if repaired:
            name = text.split("<", 1)[0].strip().strip('"') if "<" in text else ""
            defects.append(f"{where}: malformed address repaired")
            return [MailAddress(name=decode_words(name, defects, where).strip(), email=repaired)]
    return result


# --- small header helpers ----------------------------------------------------------------------------

_MSGID = re.compile(r"<([^<>\s]+)>")


def _message_ids(value: str) -> list[str]:
    found = _MSGID.findall(value)
    if found:
        return found
    return [token.strip("<>,;") for token in value.split() if "@" in token or len(token) > 8]


def _parse_date(value: str, defects: list[str]) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        defects.append("date: unparseable")
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    try:
        return parsed.astimezone(dt.UTC)
    except (OverflowError, ValueError):
        defects.append("date: out of range")
        return None


class _Headers:
    """Case-insensitive view over a compat32 message's raw header list (first value wins)."""

    __slots__ = ("_all", "_first")

    def __init__(self, msg: Message) -> None:
        self._first: dict[str, str] = {}
        self._all: dict[str, list[str]] = {}
        for name, value in msg.raw_items():
            key = name.lower()
            if key not in self._first:
                self._first[key] = value if isinstance(value, str) else str(value)
            self._all.setdefault(key, []).append(value if isinstance(value, str) else str(value))

    def get(self, name: str) -> str:
        return self._first.get(name, "")

    def all(self, name: str) -> list[str]:
        return self._all.get(name, [])

    def __contains__(self, name: str) -> bool:
        return name in self._first

    def __len__(self) -> int:
        return len(self._first)


# --- payload decoding --------------------------------------------------------------------------------


def _raw_payload(part: Message) -> bytes:
    # The private attribute on purpose: compat32's get_payload() "helpfully" decodes 8-bit text with
    # errors='replace', destroying bytes we still want to decode in the right charset.
    payload = getattr(part, "_payload", "")
    if isinstance(payload, bytes):
        return payload
    if not isinstance(payload, str):
        return b""
    return payload.encode("ascii", "surrogateescape")


def _decode_payload(part: Message, cte: str, defects: list[str]) -> tuple[bytes, str]:
    """Transfer-decoded bytes of a leaf part, plus the file name a uuencode 'begin' line carries."""
    data = _raw_payload(part)
    if cte == "base64":
        try:
            return binascii.a2b_base64(data), ""
        except (binascii.Error, ValueError):
            defects.append("base64: damaged payload")
            return _b_decode(data.decode("ascii", "ignore")), ""
    if cte == "quoted-printable":
        return binascii.a2b_qp(data).replace(b"\r\n", b"\n"), ""
    if cte in ("x-uuencode", "uuencode", "x-uue", "uue"):
        decoded = _uudecode(data)
        if decoded is not None:
            return decoded[1], decoded[0]
        lines = [line for line in data.split(b"\n") if line.strip() not in (b"end", b"")]
        return _uudecode_lines(lines), ""
    if cte != "binary" and b"\r\n" in data:
        # text-ish transfer encodings: CRLF is the wire form, the content's own line end is LF
        data = data.replace(b"\r\n", b"\n")
    return data, ""


_UU_BEGIN = re.compile(rb"^begin(?:-base64)? +[0-7]{3,4} +([^\r\n]+?)\s*$", re.M)
_UU_BEGIN_TEXT = re.compile(r"^begin [0-7]{3,4} +(\S[^\r\n]*?)\s*$", re.M)


def _uudecode_lines(lines: list[bytes]) -> bytes:
    out = bytearray()
    for line in lines:
        line = line.rstrip(b"\r\n")
        if not line or line.strip() in (b"`", b""):
            continue
        try:
            out += binascii.a2b_uu(line)
        except binascii.Error:
            # Broken encoders pad lines with junk; cut the line to the length its first byte declares.
            size = (((line[0] - 32) & 63) * 4 + 5) // 3
            try:
                out += binascii.a2b_uu(line[:size])
            except binascii.Error:
                continue
    return bytes(out)


def _uudecode(data: bytes) -> tuple[str, bytes] | None:
    match = _UU_BEGIN.search(data)
    if match is None:
        return None
    body = data[match.end() :].lstrip(b"\r\n").split(b"\n")
    lines: list[bytes] = []
    for line in body:
        if line.strip() == b"end":
            break
        lines.append(line)
    name = match.group(1).decode("utf-8", "replace")
    return name, _uudecode_lines(lines)


def _extract_uuencoded(text: str) -> tuple[str, list[tuple[str, bytes]]]:
    """Pull 'begin 644 name ... end' blocks out of a text body (old clients put files inline)."""
    files: list[tuple[str, bytes]] = []
    while True:
        match = _UU_BEGIN_TEXT.search(text)
        if match is None:
            break
        end = re.compile(r"^end\s*$", re.M).search(text, match.end())
        stop = end.start() if end else len(text)
        block = text[match.end() : stop]
        content = _uudecode_lines(block.encode("latin-1", "replace").split(b"\n"))
        files.append((match.group(1), content))
        text = text[: match.start()] + text[(end.end() if end else len(text)) :]
    return text, files


# --- HTML --------------------------------------------------------------------------------------------

_ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "center", "code", "col", "colgroup", "dd", "del",
    "div", "dl", "dt", "em", "font", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "li",
    "ol", "p", "pre", "q", "s", "small", "span", "strike", "strong", "sub", "sup", "table", "tbody",
    "td", "tfoot", "th", "thead", "tr", "u", "ul",
}  # fmt: skip
_ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "width", "height", "title"},
    "td": {"colspan", "rowspan", "align", "valign"},
    "th": {"colspan", "rowspan", "align", "valign"},
    "blockquote": {"type", "cite"},
    "div": {"dir"},
    "p": {"dir"},
}


def sanitise_html(html: str) -> str:
    """Only harmless tags; links get rel=noopener; inline images keep their cid: source for resolving."""
    if not html.strip():
        return ""
    return nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto", "cid", "tel"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9:_-]*)([^<>]*)>")
_BLOCK_TAGS = {
    "p", "div", "br", "tr", "li", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "pre",
    "dt", "dd", "dl", "section", "article", "header", "footer", "address", "center", "form", "fieldset",
    "tbody", "thead", "tfoot", "caption", "title", "body", "html",
}  # fmt: skip
_SKIP_CONTENT = {"script", "style", "title", "template", "noscript", "head:style", "xml", "svg", "object"}
_SPACES = re.compile(r"[ \t\r\n\f\v\u00a0\u200b\ufeff]+")


# One search per '<': a comment (to '-->' or the end), a tag, '<!...>' / '<?...>' (to '>' or the end), or a
# lone '<' that is text.
_HTML_TOKEN = re.compile(r"<!--.*?(?:-->|\Z)|<(/?)([a-zA-Z][a-zA-Z0-9:_-]*)([^<>]*)>|<[!?][^>]*>?|<", re.S)
_NEWLINE_AFTER_CLOSING = {"br", "p", "div", "tr", "li", "h1", "h2", "h3", "table"}


def html_to_text(html: str, deadline: float | None = None) -> str:
    """Readable plain text of an HTML body: blocks become lines, <blockquote> becomes '> ' quoting."""
    out: list[str] = []
    append = out.append
    depth = 0
    pre = 0
    pos = 0
    n = len(html)
    steps = 0
    quote = ""  # "> " * depth
    search = _HTML_TOKEN.search
    spaces = _SPACES.sub
    unescape = html_lib.unescape

    def text(chunk: str) -> None:
        if "&" in chunk:
            chunk = unescape(chunk)
        if pre:
            append(chunk.replace("\r\n", "\n").replace("\n", "\n" + quote))
        else:
            append(spaces(" ", chunk))

    while pos < n:
        match = search(html, pos)
        if match is None:
            text(html[pos:])
            break
        lt = match.start()
        if lt > pos:
            text(html[pos:lt])
        pos = match.end()
        name = match.group(2)
        if name is None:
            if pos == lt + 1:
                text("<")  # a '<' that starts no tag
            continue  # a comment, <!...> or <?...>
        steps += 1
        if deadline is not None and steps % 2048 == 0 and time.monotonic() > deadline:
            raise MailTooComplex("time limit exceeded while converting HTML")
        name = name.lower()
        closing = match.group(1)
        if name in _SKIP_CONTENT and not closing:
            if match.group(3).rstrip().endswith("/"):
                continue
            end_tag = re.compile(r"</\s*" + re.escape(name) + r"\s*>", re.I).search(html, pos)
            pos = n if end_tag is None else end_tag.end()
            continue
        if name == "blockquote":
            if closing:
                depth = max(0, depth - 1)
            else:
                depth += 1
            quote = "> " * depth
            append("\n" + quote)
        elif name in _BLOCK_TAGS:
            if name == "pre":
                pre = max(0, pre + (-1 if closing else 1))
            if not closing or name in _NEWLINE_AFTER_CLOSING:
                append("\n" + quote)
        elif name in ("td", "th") and closing:
            append(" ")
        elif name == "img" and not closing:
            alt = re.search(r"""\balt\s*=\s*("[^"]*"|'[^']*')""", match.group(3), re.I)
            if alt and alt.group(1)[1:-1].strip():
                text(" " + alt.group(1)[1:-1].strip() + " ")
    cleaned: list[str] = []
    for line in "".join(out).split("\n"):
        stripped = line.strip()
        if stripped.startswith(">"):
            # "> >  text" -> "> > text": tidy the quote prefix, keep the depth
            body = stripped.lstrip("> ")
            marks = stripped[: len(stripped) - len(body)].count(">")
            prefix = " ".join(">" * marks)
            stripped = f"{prefix} {body.strip()}" if body.strip() else prefix
        if not stripped.strip("> ") and cleaned and cleaned[-1] == stripped:
            continue  # collapse runs of blank (or blank quoted) lines
        cleaned.append(stripped)
    result = cleaned
    return "\n".join(result).strip("\n").strip()


# --- the walk over MIME parts ------------------------------------------------------------------------


@dataclass
class _Collected:
    texts: list[str]
    htmls: list[str]
    attachments: list[ParsedAttachment]
    defects: list[str]
    dsn_blocks: list[dict[str, str]]
    bounced_message_id: str
    parts: int
    deadline: float


_SAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")


def _safe_filename(name: str) -> str:
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _SAFE_NAME.sub("_", name).strip(" ._")
    return name[:200]


def _made_up_name(n: int, content_type: str) -> str:
    ext = {
        "application/pdf": ".pdf",
        "image/png": ".png",
        "image/jpeg": ".jpg",
        "image/jpg": ".jpg",
        "image/gif": ".gif",
        "image/webp": ".webp",
        "text/plain": ".txt",
        "text/html": ".html",
        "text/calendar": ".ics",
        "text/csv": ".csv",
        "message/delivery-status": ".txt",
        "text/rfc822-headers": ".txt",
        "application/zip": ".zip",
        "application/pgp-signature": ".asc",
        "application/pkcs7-signature": ".p7s",
    }.get(content_type, ".bin")
    return f"attachment-{n}{ext}"


def _check(state: _Collected) -> None:
    if time.monotonic() > state.deadline:
        raise MailTooComplex("time limit exceeded")


def _walk(part: Message, depth: int, state: _Collected, in_alternative: bool = False) -> None:
    state.parts += 1
    if state.parts > MAX_PARTS:
        raise MailTooComplex(f"more than {MAX_PARTS} MIME parts")
    if depth > MAX_DEPTH:
        raise MailTooComplex(f"MIME nesting deeper than {MAX_DEPTH}")
    if state.parts % 16 == 0:
        _check(state)
    for defect in part.defects:
        state.defects.append(type(defect).__name__)

    ctype_raw = str(part.get("content-type", "") or "")
    ctype, params = _split_params(_clean_header(ctype_raw)) if ctype_raw else ("", {})
    if "/" not in ctype:
        ctype = (
            "message/rfc822"
            if part.get_default_type() == "message/rfc822" and not ctype_raw
            else "text/plain"
        )
    maintype = ctype.split("/", 1)[0]
    payload = part.get_payload()

    if maintype == "multipart":
        if isinstance(payload, list):
            alternative = ctype == "multipart/alternative"
            for sub in payload:
                if isinstance(sub, Message):
                    _walk(sub, depth + 1, state, alternative)
            _walk_epilogue(part, params.get("boundary", ""), depth, state)
            return
        if isinstance(payload, str) and not payload.strip():
            return
        # A multipart whose boundary never appears: the stdlib leaves the body as one string.
        ctype = "text/plain"
        maintype = "text"
        state.defects.append("multipart without usable boundary read as text")

    disp_raw = str(part.get("content-disposition", "") or "")
    disposition, disp_params = _split_params(_clean_header(disp_raw)) if disp_raw else ("", {})
    filename = disp_params.get("filename") or params.get("name") or ""
    if filename:
        filename = _safe_filename(decode_header(filename, state.defects, "filename"))
    cid = str(part.get("content-id", "") or "").strip().strip("<>").strip()
    cte = str(part.get("content-transfer-encoding", "") or "").strip().lower()

    if ctype in ("message/rfc822-headers", "message/global-headers") and isinstance(payload, list):
        inner = payload[0] if payload and isinstance(payload[0], Message) else None
        if inner is not None:
            found = str(inner.get("message-id", "") or "").strip().strip("<>").strip()
            state.bounced_message_id = state.bounced_message_id or found
        return  # only the headers of our own mail that bounced: metadata, not a file for the agent
    if ctype == "message/rfc822" or (ctype == "message/global"):
        _walk_embedded(part, payload, depth, state, filename, disposition)
        return
    if ctype == "message/delivery-status" or ctype == "message/global-delivery-status":
        _collect_dsn(part, payload, state)
        content = _message_payload_bytes(payload)
        state.attachments.append(
            ParsedAttachment(filename or "delivery-status.txt", content, "message/delivery-status")
        )
        return

    data, uu_name = _decode_payload(part, cte, state.defects)
    if uu_name and not filename:
        filename = _safe_filename(uu_name)
    is_body = ctype in ("text/plain", "text/html") and disposition != "attachment" and not uu_name
    if ctype == "text/rfc822-headers":
        headers_text = data.decode("utf-8", "replace")
        header_match = re.search(r"(?im)^message-id:\s*<?([^\s<>]+)>?", headers_text)
        if header_match and not state.bounced_message_id:
            state.bounced_message_id = header_match.group(1)
        return  # metadata of the bounced mail, not a file for the agent
    if is_body and not filename:
        text = _decode_bytes(data, params.get("charset"), state.defects, ctype)
        if ctype == "text/plain":
            if "begin " in text:
                text, files = _extract_uuencoded(text)
                for name, content in files:
                    state.attachments.append(
                        ParsedAttachment(
                            _safe_filename(name) or "uuencoded.bin", content, "application/octet-stream"
                        )
                    )
            state.texts.append(text)
        else:
            state.htmls.append(text)
        return
    if in_alternative and maintype == "text" and not filename and disposition != "attachment":
        return  # text/enriched, text/watch-html... : other renderings of the same body
    if not data and not filename and not cid and disposition != "attachment":
        return
    inline = bool(cid) and disposition != "attachment"  # final say after the walk: is it referenced?
    name = filename or _made_up_name(len(state.attachments) + 1, ctype)
    state.attachments.append(ParsedAttachment(name, data, ctype, cid, inline))


_CID_REF = re.compile(r"""cid:([^"'\s>)]+)""", re.I)


def _settle_inline(state: _Collected, html: str) -> None:
    """Inline means the HTML shows it (src="cid:..."); an unreferenced part is a file the agent must see."""
    referenced = (
        {urllib.parse.unquote(ref).strip("<>").lower() for ref in _CID_REF.findall(html)} if html else set()
    )
    state.attachments = [
        dataclasses.replace(a, inline=bool(a.content_id) and a.content_id.lower() in referenced)
        if a.inline or (a.content_id and a.content_id.lower() in referenced)
        else a
        for a in state.attachments
    ]


def _message_payload_bytes(payload: object) -> bytes:
    if isinstance(payload, list):
        chunks = []
        for sub in payload:
            if isinstance(sub, Message):
                try:
                    chunks.append(sub.as_bytes())
                except Exception:
                    chunks.append(str(sub).encode("utf-8", "replace"))
        return b"\n".join(chunks)
    if isinstance(payload, str):
        return payload.encode("ascii", "surrogateescape")
    if isinstance(payload, bytes):  # a long base64 body put back by _put_back
        return payload
    return b""


def _walk_epilogue(part: Message, boundary: str, depth: int, state: _Collected) -> None:
    """Parts after the closing boundary (broken mailers close too early): parse them, never drop them."""
    epilogue = part.epilogue
    if (
        not boundary
        or not epilogue
        or "--" + boundary not in epilogue
        or "content-type" not in epilogue.lower()
    ):
        return
    synthetic = f'Content-Type: multipart/mixed; boundary="{boundary}"\n\n' + epilogue
    rescued = email.message_from_string(synthetic)
    sub = rescued.get_payload()
    if isinstance(sub, list):
        state.defects.append("parts after the closing boundary recovered")
        for child in sub:
            if isinstance(child, Message):
                _walk(child, depth + 1, state)


def _walk_embedded(
    part: Message,
    payload: object,
    depth: int,
    state: _Collected,
    filename: str,
    disposition: str,
    content_type: str = "message/rfc822",
) -> None:
    """A forwarded or bounced mail: kept whole as an .eml attachment; its body is not the reply text."""
    inner = payload[0] if isinstance(payload, list) and payload and isinstance(payload[0], Message) else None
    if inner is None:
        data = _raw_payload(part)
        cte = str(part.get("content-transfer-encoding", "") or "").strip().lower()
        if cte in ("base64", "quoted-printable"):
            data, _ = _decode_payload(part, cte, state.defects)
        state.attachments.append(ParsedAttachment(filename or "message.eml", data, "message/rfc822"))
        return
    if depth + 1 > MAX_DEPTH:
        raise MailTooComplex(f"MIME nesting deeper than {MAX_DEPTH}")
    try:
        content = inner.as_bytes()
    except Exception:
        content = _message_payload_bytes(payload)
    inner_subject = decode_header(str(inner.get("subject", "") or ""), state.defects, "embedded subject")
    if not state.bounced_message_id:
        state.bounced_message_id = str(inner.get("message-id", "") or "").strip().strip("<>").strip()
    name = filename or (
        _safe_filename(inner_subject) + ".eml" if _safe_filename(inner_subject) else "message.eml"
    )
    state.attachments.append(ParsedAttachment(name, content, content_type))
    # Count its parts against the limits, without collecting its bodies.
    stack = [(inner, depth + 1)]
    while stack:
        node, level = stack.pop()
        state.parts += 1
        if state.parts > MAX_PARTS:
            raise MailTooComplex(f"more than {MAX_PARTS} MIME parts")
        if level > MAX_DEPTH:
            raise MailTooComplex(f"MIME nesting deeper than {MAX_DEPTH}")
        state.defects.extend(type(defect).__name__ for defect in node.defects)
        sub = node.get_payload()
        if isinstance(sub, list):
            stack.extend((child, level + 1) for child in sub if isinstance(child, Message))


def _collect_dsn(part: Message, payload: object, state: _Collected) -> None:
    blocks: list[dict[str, str]] = []
    if isinstance(payload, list):
        for sub in payload:
            if isinstance(sub, Message):
                blocks.append({k.lower(): _clean_header(str(v)).strip() for k, v in sub.raw_items()})
    else:
        text = _raw_payload(part).decode("utf-8", "replace")
        for chunk in re.split(r"\r?\n\s*\r?\n", text):
            block: dict[str, str] = {}
            last = ""
            for line in chunk.splitlines():
                if line[:1] in (" ", "\t") and last:
                    block[last] += " " + line.strip()
                elif ":" in line:
                    key, _, value = line.partition(":")
                    last = key.strip().lower()
                    block[last] = value.strip()
            if block:
                blocks.append(block)
    state.dsn_blocks.extend(blocks)


# --- auto-reply and bounce signals ---------------------------------------------------------------------

_AUTO_SUBJECT = re.compile(
    r"^\s*(?:\[[^\]]{0,40}\]\s*)?"
    r"(?:auto(?:matic)?[\s_-]*(?:reply|response|antwort|svar|odpowied[zź])"
    r"|autosvar|autoreply|auto-reply|auto\s*:"
    r"|out\s+of\s+(?:the\s+)?office(?:\s+(?:auto)?reply)?|ooo\b|on\s+vacation|vacation\s+(?:reply|notice)"
    r"|abwesenheitsnotiz|automatische\s+antwort|réponse\s+automatique|respuesta\s+automática|risposta\s+automatica"
    r"|automatyczna\s+odpowied[zź]|odpowied[zź]\s+automatyczna|autoodpowied[zź]|nieobecno[sś][cć]"
    r"|jestem\s+na\s+urlopie|poza\s+biurem"
    r"|автоответ|автоматический\s+ответ|автоматическое\s+уведомление|нет\s+на\s+месте|вне\s+офиса|в\s+отпуске"
    r"|відсутн(?:ій|я)\s|автовідповідь|автоматична\s+відповідь)"
    r"(?=\s*$|\s*[:\-–—(|]|\s)",
    re.I,
)
_BOUNCE_SUBJECT = re.compile(
    r"^\s*(?:undeliver(?:ed|able)|undelivered\s+mail\s+returned\s+to\s+sender|returned\s+mail"
    r"|delivery\s+status\s+notification\s*\((?:failure|delay)\)|delivery\s+(?:status\s+notification|failure|failed)"
    r"|mail\s+delivery\s+(?:failed|failure|system|subsystem)|failure\s+notice|non[- ]?delivery"
    r"|message\s+(?:not\s+delivered|delivery\s+failed)|could\s+not\s+send\s+message|warning:\s+could\s+not\s+send"
    r"|unzustellbar|nicht\s+zustellbar|non\s+remis|benachrichtung.{0,40}zustellstatus|benachrichtigung.{0,40}zustellstatus"
    r"|niedostarczon[ay]|niedostarczalna|nie\s+można\s+dostarczyć|zwrot\s+poczty|wiadomość\s+niedostarczona"
    r"|недоставленное\s+сообщение|не\s+удалось\s+доставить|сообщение\s+не\s+доставлено|ошибка\s+доставки"
    r"|повідомлення\s+не\s+доставлено|недоставлене\s+повідомлення)",
    re.I,
)
_DAEMON = re.compile(
    r"^(?:mailer-daemon|mailerdaemon|mail-daemon|postmaster|mail\.delivery\.system|bounces?)@", re.I
)
_STATUS_CODE = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")


def _auto_signal(headers: _Headers, subject: str, defects: list[str]) -> str:
    auto = headers.get("auto-submitted").strip().lower().split(";", 1)[0].strip()
    if auto and auto != "no":
        return f"auto-submitted: {auto}"
    for name in ("x-autoreply", "x-autorespond", "x-autogenerated", "x-autoreply-from", "x-mail-autoreply"):
        value = headers.get(name).strip().lower()
        if name in headers and value not in ("no", "false", "0"):
            return name
    precedence = headers.get("precedence").strip().lower()
    if precedence in ("bulk", "junk", "list", "auto_reply", "auto-reply"):
        return f"precedence: {precedence}"
    suppress = headers.get("x-auto-response-suppress").lower()
    if suppress and re.search(r"\b(all|oof)\b", suppress):
        return "x-auto-response-suppress"
    mailer = (headers.get("x-mailer") + " " + headers.get("user-agent")).lower()
    if "vacation" in mailer or "autoreply" in mailer or "auto-reply" in mailer:
        return "x-mailer: vacation"
    if "x-ms-exchange-inbox-rules-loop" in headers or "x-ms-exchange-generated-message-source" in headers:
        return "exchange: generated"
    if subject and _AUTO_SUBJECT.match(subject):
        return "subject: vacation"
    return ""


def _bounce(
    headers: _Headers, sender: MailAddress, subject: str, text: str, ctype: str, ctype_params: dict[str, str],
    state: _Collected,
) -> Bounce | None:  # fmt: skip
    blocks = state.dsn_blocks
    is_report = ctype == "multipart/report" and ctype_params.get("report-type", "").lower() in (
        "delivery-status",
        "",
    )
    if blocks or (is_report and ctype_params.get("report-type", "").lower() == "delivery-status"):
        recipients = [
            b for b in blocks if "final-recipient" in b or "original-recipient" in b or "action" in b
        ]
        chosen = None
        for wanted in ("failed", "delayed"):
            chosen = next((b for b in recipients if b.get("action", "").lower().startswith(wanted)), None)
            if chosen:
                break
        if chosen is None and recipients:
            actions = {b.get("action", "").lower() for b in recipients}
            if actions and actions <= {"delivered", "relayed", "expanded"}:
                return None  # a success notice, not a bounce
            chosen = recipients[0]
        if chosen is not None or blocks:
            block = chosen or {}
            status_match = _STATUS_CODE.search(block.get("status", ""))
            status = status_match.group(1) if status_match else ""
            action = block.get("action", "").lower()
            recipient = block.get("final-recipient") or block.get("original-recipient") or ""
            recipient = recipient.split(";", 1)[-1].strip()
            diagnostic = block.get("diagnostic-code", "")
            diagnostic = diagnostic.split(";", 1)[-1].strip() if ";" in diagnostic[:20] else diagnostic
            if not status:
                # Some reports (Gmail's) leave the fields empty and say it in the text only.
                found = _STATUS_CODE.search(diagnostic) or _STATUS_CODE.search(text[:5000])
                status = found.group(1) if found else ""
            if not status:
                code = re.match(r"\s*([45])\d\d\b", diagnostic)
                status = f"{code.group(1)}.0.0" if code else ""
            permanent = status.startswith("5") or (not status and action.startswith("failed"))
            if status.startswith("4") or action.startswith("delayed"):
                permanent = False
            return Bounce(
                original_message_id=state.bounced_message_id,
                recipient=_repair_address(recipient) if recipient else _failed_recipient(headers),
                status=status,
                diagnostic=(diagnostic or _first_reason(text))[:500],
                permanent=permanent,
            )
    daemon = bool(_DAEMON.match(sender.email)) or (not sender.email and "<>" in headers.get("return-path"))
    if not (_BOUNCE_SUBJECT.match(subject) and (daemon or "x-failed-recipients" in headers)):
        return None
    status_match = _STATUS_CODE.search(text)
    status = status_match.group(1) if status_match else ""
    message_id = state.bounced_message_id
    if not message_id:
        found = re.search(r"(?im)^\s*message-id:\s*<([^\s<>]+)>", text)
        message_id = found.group(1) if found else ""
    delayed = bool(
        re.search(
            r"\b(delay(ed)?|opóźni|задерж|will (?:retry|continue))\b", subject + " " + text[:2000], re.I
        )
    )
    permanent = status.startswith("5") or (not status.startswith("4") and not delayed)
    recipient = _failed_recipient(headers)
    if not recipient:
        for found_addr in _ADDR_IN_TEXT.findall(text[:5000]):
            candidate = found_addr.lower()
            if candidate != sender.email and not _DAEMON.match(candidate):
                recipient = candidate
                break
    return Bounce(message_id, recipient, status, _first_reason(text)[:500], permanent)


def _failed_recipient(headers: _Headers) -> str:
    value = headers.get("x-failed-recipients")
    if not value:
        return ""
    return _repair_address(value.split(",", 1)[0])


def _first_reason(text: str) -> str:
    for line in text.splitlines():
        stripped = line.strip()
        if _STATUS_CODE.search(stripped) or re.search(
            r"\b(said|error|failed|rejected|unknown|does not exist)\b", stripped, re.I
        ):
            return stripped
    return " ".join(text.split())[:300]


# --- the entry points ----------------------------------------------------------------------------------


def _feed(raw: bytes, deadline: float) -> Message:
    """The stdlib feed parser, fed in chunks so a hostile message cannot outrun the time limit.

    Long base64 bodies are set aside first (see _set_aside) and put back into the parsed tree after."""
    slots: list[bytes] = []
    if len(raw) >= _SLOT_MIN_MAIL:
        raw, slots = _set_aside(raw)
    text = raw.decode("ascii", "surrogateescape")
    msg = _parse_single_part(text)
    if msg is not None:
        if slots:
            _put_back(msg, slots, False)
        return msg
    parser = email.feedparser.FeedParser()
    for start in range(0, len(text), _FEED_CHUNK):
        parser.feed(text[start : start + _FEED_CHUNK])
        if time.monotonic() > deadline:
            raise MailTooComplex("time limit exceeded while parsing MIME")
    msg = parser.close()
    if slots:
        _put_back(msg, slots, False)
    return msg


_FIELD_LINE = re.compile(r"[\041-\071\073-\176]+:")  # the stdlib's headerRE, with a non-empty name
_MAX_SIMPLE_HEADER = 64 * 1024


def _parse_single_part(text: str) -> Message | None:
    """What the stdlib parser makes of a plain single-part mail, built directly (the parser costs
    ~0.1 ms even on a short mail): a header block of well-formed fields and continuation lines, an
    empty line, then a body that is not multipart/message (so it is one opaque payload).

    None for anything else (a line the parser would flag, a bare CR, an mbox 'From ' line, no empty
    line, a multipart or message type): the stdlib parser does those, with its defects."""
    fields: list[list[str]] = []
    pos = 0
    limit = min(len(text), _MAX_SIMPLE_HEADER)
    while True:
        newline = text.find("\n", pos, limit)
        if newline < 0:
            return None
        line = text[pos : newline + 1]
        pos = newline + 1
        content = line[:-2] if line.endswith("\r\n") else line[:-1]
        if "\r" in content:
            return None
        if not content:
            break  # the empty line between header and body
        if content[0] in " \t":
            if not fields:
                return None  # FirstHeaderLineIsContinuationDefect
            fields[-1].append(line)
        elif _FIELD_LINE.match(content):
            fields.append([line])
        else:
            return None
    if not fields:
        return None
    msg = Message(policy=compat32)
    for field in fields:
        msg.set_raw(*compat32.header_source_parse(field))
    if msg.get_content_maintype() in ("multipart", "message"):
        return None
    msg.set_payload(text[pos:])
    return msg


# The stdlib parser reads a body line by line in Python (~5 us a line): a 1 MB attachment costs ~70 ms,
# a 25 MB one over a second. Yet most body lines mean nothing to it. Past the first line after an empty
# line, a line matters only if it is empty (it ends a header block of message/delivery-status) or starts
# with '--' (it may be a boundary); every other line lands verbatim in some payload, preamble or
# epilogue. And that first line matters only if it could be a header field (it starts the header of an
# embedded message or of a delivery-status block). So a run of lines after an empty line whose first
# line cannot be a header field, with no empty line and no line starting with '--' in it, is swapped
# for one short placeholder line before parsing, and the placeholder for the original bytes after: the
# tree, the defects and every payload come out exactly as the parser alone makes them (tests compare),
# in a fraction of the time.
_SLOT_MIN_MAIL = 16 * 1024  # smaller mails: nothing to gain
_SLOT_MIN_RUN = 1024
_SLOT_PREFIX = b"Zq0PiekunSlot"  # a mail that contains it is parsed without slots
_SLOT_TOKEN = re.compile(_SLOT_PREFIX.decode() + r"(\d+)x")
_RUN_START = re.compile(rb"\n\r?\n(?=[!-,.-~\x80-\xff])")  # a line after an empty line; not ' \t\r\n-'
_MAYBE_FIELD = re.compile(rb"From |[\041-\071\073-\176]*:")  # the stdlib's headerRE, less continuation
# Where a run must end (the first byte of): a line starting with '--' (after LF or a bare CR), an empty
# line (LF LF, LF CR LF), and bare CRs that make an empty line of their own (LF CR x, CR CR).
_RUN_STOPS = (b"\n--", b"\r--", b"\n\n", b"\n\r", b"\r\r")


def _run_stop(raw: bytes, start: int) -> int:
    """Where the first _RUN_STOPS pattern at or after `start` begins (len(raw) if none): searched in
    growing windows, so a short run costs little and the whole scan stays linear."""
    size = len(raw)
    low = start
    step = _SLOT_MIN_RUN
    while low < size:
        high = min(size, low + step)
        top = min(size, high + 2)  # a pattern starting before `high` ends before `top`
        # Each multi-byte find is a pass at ~1 ns a byte; memchr-fast tests rule most of them out first
        # (base64 has no '-'; LF-only text has no bare CR; in pure CRLF text only LF CR can occur).
        patterns: tuple[bytes, ...] = (b"\n--", b"\r--") if raw.find(b"-", low, top) >= 0 else ()
        if raw.find(b"\r", low, top) < 0:
            patterns += (b"\n\n",)
        elif raw.count(b"\r", low, top) == raw.count(b"\n", low, top) == raw.count(b"\r\n", low, top):
            patterns += (b"\n\r",)
        else:
            patterns += (b"\n\n", b"\n\r", b"\r\r")
        found = -1
        for pattern in patterns:
            at = raw.find(pattern, low, high + len(pattern) - 1)
            if at >= 0 and (found < 0 or at < found):
                found = at
                high = at  # later patterns only need to look before it
        if found >= 0:
            return found
        low = high
        step = min(step * 4, 1 << 20)
    return size


def _set_aside(raw: bytes) -> tuple[bytes, list[bytes]]:
    """raw with long runs of opaque body lines replaced by placeholder lines, and the runs (see above)."""
    if raw.find(_SLOT_PREFIX) >= 0:
        return raw, []
    pieces: list[bytes] = []
    slots: list[bytes] = []
    copied = 0
    pos = 0
    while True:
        found = _RUN_START.search(raw, pos)
        if found is None:
            break
        start = found.end()
        pos = start
        if _MAYBE_FIELD.match(raw, start):
            continue  # the first line could be a header field
        stop = _run_stop(raw, start)
        pos = max(stop, start + 1)
        end = stop
        while end > start and raw[end - 1] in b"\r\n":  # the last line's own line end stays outside
            end -= 1
        if end - start < _SLOT_MIN_RUN:
            continue
        pieces.append(raw[copied:start])
        pieces.append(_SLOT_PREFIX + str(len(slots)).encode() + b"x")
        slots.append(raw[start:end])
        copied = end
    if not slots:
        return raw, []
    pieces.append(raw[copied:])
    return b"".join(pieces), slots


def _put_back(node: Message, slots: list[bytes], embedded: bool) -> None:
    """Swap the placeholders back. A leaf's whole payload becomes bytes (what _raw_payload wants, no
    copy), except inside an embedded mail, which as_bytes() must still be able to write out as text."""

    def restore(value: str) -> str:
        return _SLOT_TOKEN.sub(lambda m: slots[int(m.group(1))].decode("ascii", "surrogateescape"), value)

    prefix = _SLOT_PREFIX.decode()
    for attr in ("preamble", "epilogue"):
        value = getattr(node, attr, None)
        if isinstance(value, str) and prefix in value:
            setattr(node, attr, restore(value))
    payload = getattr(node, "_payload", None)
    if isinstance(payload, list):
        inner = embedded or node.get_content_maintype() != "multipart"
        for child in payload:
            if isinstance(child, Message):
                _put_back(child, slots, inner)
    elif isinstance(payload, str) and prefix in payload:
        whole = _SLOT_TOKEN.fullmatch(payload)
        node._payload = slots[int(whole.group(1))] if whole and not embedded else restore(payload)  # type: ignore[attr-defined]


_HEADER_LINE = re.compile(rb"[!-9;-~]{1,76}:[ \t]?\S?")


def _skip_leading_junk(raw: bytes) -> bytes | None:
    start = 0
    for _ in range(5):
        end = raw.find(b"\n", start)
        if end < 0:
            return None
        start = end + 1
        if _HEADER_LINE.match(raw, start) and _HEADER_LINE.match(raw, raw.find(b"\n", start) + 1):
            return raw[start:]
    return None


_KNOWN_HEADER = re.compile(
    rb"^(?:from|to|cc|subject|date|message-id|content-type|mime-version|received|reply-to|in-reply-to|references)"
    rb"[ \t]*:",
    re.I | re.M,
)


def _repair_folding(raw: bytes, msg: Message) -> bytes | None:
    """Some mailers fold long headers without leading whitespace; the parser then ends the header early.

    Only when the header block (up to the first empty line) still holds well-known fields after the
    offending line do we indent the stray lines and parse again."""
    if not any(type(d).__name__ == "MissingHeaderBodySeparatorDefect" for d in msg.defects):
        return None
    match = re.search(rb"\r?\n\r?\n", raw)
    head_end = match.start() if match else len(raw)
    head = raw[:head_end]
    lines = head.split(b"\n")
    fixed: list[bytes] = []
    changed = False
    for index, line in enumerate(lines):
        if index and line[:1] not in (b" ", b"\t") and not _HEADER_LINE.match(line):
            if not _KNOWN_HEADER.search(b"\n".join(lines[index:])):
                fixed.extend(lines[index:])  # the body really starts here, without an empty line
                break
            fixed.append(b" " + line)
            changed = True
        else:
            fixed.append(line)
    return b"\n".join(fixed) + raw[head_end:] if changed else None


def _looks_textual(sample: bytes) -> bool:
    printable = sum(1 for c in sample if c >= 32 or c in (9, 10, 13))
    return printable >= 0.9 * len(sample)


def parse_mail(raw: bytes, *, time_limit: float = 5.0) -> ParsedMail:
    """Parse one raw mail. Pure: touches nothing. Raises only MailParseError / MailTooComplex."""
    try:
        return _parse(raw, time_limit)
    except MailParseError:
        raise
    except RecursionError as exc:
        raise MailTooComplex("MIME structure too deep for the parser") from exc
    except Exception as exc:  # the promise: one bad mail never escapes as anything else
        raise MailParseError(f"unexpected parser failure: {type(exc).__name__}: {exc}"[:500]) from exc


def _parse(raw: bytes, time_limit: float) -> ParsedMail:
    started = time.monotonic()
    deadline = started + max(0.0, time_limit)
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise MailParseError("a mail must be bytes")
    raw = bytes(raw)
    if not raw or raw.isspace():  # (not raw.strip(), without copying a big mail)
        raise MailParseError("empty input")
    containers = raw.count(b"ultipart/") + raw.count(b"ULTIPART/") + raw.count(b"essage/rfc822")
    if containers > MAX_CONTAINERS:
        raise MailTooComplex(f"more than {MAX_CONTAINERS} multipart containers")
    if time_limit <= 0:
        raise MailTooComplex("time limit exceeded")
    defects: list[str] = []
    msg = _feed(raw, deadline)
    headers = _Headers(msg)
    if not len(headers):
        # Some gateways prepend a banner line ("---- Original email message ----") before the header.
        skipped = _skip_leading_junk(raw)
        if skipped is not None:
            raw = skipped
            msg = _feed(skipped, deadline)
            headers = _Headers(msg)
            defects.append("junk before the header skipped")
    if "subject" not in headers or "from" not in headers:
        repaired = _repair_folding(raw, msg)
        if repaired is not None:
            msg = _feed(repaired, deadline)
            headers = _Headers(msg)
            defects.append("header lines without folding whitespace joined")
    if not len(headers):
        if b"\x00" in raw[:4096] or not _looks_textual(raw[:4096]):
            raise MailParseError("no header fields and not text: not an e-mail")
        defects.append("no header fields")
    ctype_raw = headers.get("content-type")
    ctype, ctype_params = _split_params(_clean_header(ctype_raw)) if ctype_raw else ("text/plain", {})
    header_charset = ctype_params.get("charset") if ctype.startswith("text/") else None

    state = _Collected([], [], [], defects, [], "", 0, deadline)
    _walk(msg, 0, state)
    _check(state)

    subject = decode_header(headers.get("subject"), defects, "subject", header_charset)
    from_list: list[MailAddress] = []
    for value in headers.all("from"):  # a junk first From: line is followed by the real one (spam)
        from_list = _parse_addresses(value, defects, "from")
        if any(a.email for a in from_list):
            break
    sender = next((a for a in from_list if a.email), None)
    original = _parse_addresses(headers.get("x-original-sender"), defects, "x-original-sender")
    if original and original[0].email and sender is not None and original[0].email != sender.email:
        # Google Groups (and DMARC rewriting) put the list in From and the person here
        sender = MailAddress(name=sender.name, email=original[0].email)
        defects.append("from: list address, sender taken from X-Original-Sender")
    reply_to = tuple(a for a in _parse_addresses(headers.get("reply-to"), defects, "reply-to") if a.email)
    if sender is None:
        fallbacks = [
            ("sender", _parse_addresses(headers.get("sender"), defects, "sender")),
            ("reply-to", list(reply_to)),
            ("return-path", _parse_addresses(headers.get("return-path"), defects, "return-path")),
        ]
        for source, candidates in fallbacks:
            found = next((a for a in candidates if a.email), None)
            if found is not None:
                name = from_list[0].name if from_list and from_list[0].name else found.name
                sender = MailAddress(name=name, email=found.email)
                defects.append(f"from: unusable, sender taken from {source}")
                break
        else:
            sender = MailAddress(name=from_list[0].name if from_list else "", email="")
            if "from" in headers:
                defects.append("from: unusable")
    to = tuple(_parse_addresses(",".join(headers.all("to")), defects, "to"))
    cc = tuple(_parse_addresses(",".join(headers.all("cc")), defects, "cc"))
    delivered: list[str] = []
    for name in ("delivered-to", "x-original-to", "envelope-to"):
        for value in headers.all(name):
            addr = _repair_address(_clean_header(value))
            if addr and addr not in delivered:
                delivered.append(addr)

    message_ids = _message_ids(_clean_header(headers.get("message-id")))
    in_reply_to = _message_ids(_clean_header(headers.get("in-reply-to")))
    references = _message_ids(_clean_header(" ".join(headers.all("references"))))[-MAX_REFERENCES:]
    # In-Reply-To may name several parents (RFC 5322): the first is `in_reply_to`, the others join the
    # end of the references, where threading looks right after it.
    references += [i for i in in_reply_to[1:] if i not in references]

    html_raw = "".join(state.htmls)
    if len(html_raw) > MAX_HTML_CHARS:
        raise MailTooComplex(f"HTML body larger than {MAX_HTML_CHARS} characters")
    if html_raw and html_raw.count("<") > MAX_HTML_TAGS:
        raise MailTooComplex(f"HTML body with more than {MAX_HTML_TAGS} tags")
    if state.attachments:
        _settle_inline(state, html_raw)
    text = "\n".join(t for t in state.texts if t.strip())
    if not text.strip() and html_raw:
        text = html_to_text(html_raw, deadline)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    html = sanitise_html(html_raw) if html_raw else ""
    _check(state)

    reason = _auto_signal(headers, subject, defects)
    bounce = _bounce(headers, sender, subject, text, ctype, ctype_params, state)
    if bounce is not None:
        reason = reason or "bounce"
    elif ctype == "multipart/report" and not reason:
        reason = f"report: {ctype_params.get('report-type', '') or 'unknown'}"

    date = _parse_date(_clean_header(headers.get("date")).strip(), defects)
    unique_defects = tuple(dict.fromkeys(defects))[:50]
    return ParsedMail(
        message_id=message_ids[0] if message_ids else "",
        in_reply_to=in_reply_to[0] if in_reply_to else "",
        references=tuple(references),
        subject=subject,
        sender=sender,
        reply_to=reply_to,
        to=to,
        cc=cc,
        delivered_to=tuple(delivered),
        date=date,
        text=text.strip("\n"),
        html=html,
        attachments=tuple(state.attachments),
        auto_submitted=bool(reason),
        auto_reason=reason,
        bounce=bounce,
        language=guess_language(subject + "\n" + text[:1500]),
        defects=unique_defects,
    )


# --- fingerprint ---------------------------------------------------------------------------------------

# Headers the transport adds on the way in; the same mail delivered twice differs only in these.
_TRACE_HEADERS = {
    b"received",
    b"return-path",
    b"delivered-to",
    b"x-original-to",
    b"envelope-to",
    b"x-envelope-to",
    b"x-envelope-from",
    b"x-received",
    b"authentication-results",
    b"x-original-authentication-results",
    b"received-spf",
    b"x-rcpt-to",
    b"x-delivered-to",
    b"status",
    b"x-status",
    b"x-uid",
    b"x-keywords",
    b"content-length",
    b"lines",
}
_TRACE_PREFIXES = (b"arc-", b"x-spam-", b"x-virus-", b"x-mozilla-", b"x-ms-exchange-organization-")


def fingerprint(raw: bytes) -> str:
    """sha256 of the mail minus transport trace headers (Received, Delivered-To, ...; DKIM stays)."""
    data = bytes(raw)
    if b"\r\n" in data:
        data = data.replace(b"\r\n", b"\n")
    skip = 0
    if data.startswith(b"From "):
        newline = data.find(b"\n")
        skip = len(data) if newline < 0 else newline + 1
    sep = data.find(b"\n\n", skip)
    head = data[skip:] if sep < 0 else data[skip:sep]
    # the body is hashed in place (a memoryview, not a copy: it may hold a 25 MB attachment)
    body_start = len(data) if sep < 0 else sep + 2
    body_end = len(data)
    while body_end > body_start and data[body_end - 1] in b" \t\n\r\x0b\x0c":  # body.rstrip()
        body_end -= 1
    digest = hashlib.sha256()
    keep = True
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            if keep:
                digest.update(line + b"\n")
            continue
        name = line.split(b":", 1)[0].strip().lower()
        keep = not (name in _TRACE_HEADERS or name.startswith(_TRACE_PREFIXES))
        if keep:
            digest.update(line + b"\n")
    digest.update(b"\n")
    digest.update(memoryview(data)[body_start:body_end])
    return digest.hexdigest()
