"""Split a plain-text mail body into the customer's new text, the quoted history and the signature.

Each line gets a class, and the decisions are made on the string of classes (the approach of
Discourse's email_reply_trimmer, reimplemented here):

    e  empty            d  delimiter ("--", "____", "-----")     s  mobile signature ("Sent from my iPhone")
    b  attribution / separator ("On ... wrote:", "W dniu ... pisze:", "-----Original Message-----")
    h  header line of an embedded mail ("From:", "Od:", "От:", "Sent:", "Wysłano:")
    q  quoted line ("> ...")                                     t  anything else: text

Pure and linear-time: regexes are anchored and bounded, so a hostile body cannot make them backtrack.
To add a client's attribution line, extend the tables below and add the line to the tests
(docs/channels/email-parsing.md says how).
"""

# ruff: noqa: RUF001, RUF002, RUF003 -- Cyrillic and Polish letters in patterns and samples are the point

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class ReplySplit:
    reply: str  # the customer's new text, stripped
    quoted: str  # quoted history (attribution line + quoted lines), '' when none
    signature: str  # signature block ('' when none)


# --- line classes ---------------------------------------------------------------------------------

_DELIMITER = re.compile(r"^[ \t]*[-_=+~#*ᐧ—–]+[ \t]*$")
_QUOTE = re.compile(r"^[ \t]*(?:[A-Za-z]{1,10})?(?:>|\|(?!\|))")

# Header names of an embedded (forwarded/quoted) mail, in the languages our customers' clients use.
_HEADER_NAMES = (
    r"from|sent|to|cc|bcc|subject|date|reply-to|"
    r"od|wysłano|wysłane|do|dw|udw|temat|data|"  # pl
    r"от|отправлено|кому|копия|тема|дата|"  # ru
    r"від|надіслано|копія|"  # uk
    r"von|gesendet|an|betreff|datum|kopie|antwort an|"  # de
    r"de|envoyé|envoyé le|à|objet|cc|"  # fr
    r"para|asunto|enviado|enviado el|"  # es/pt
    r"da|inviato|oggetto|a|risposta|"  # it
    r"från|skickat|till|ämne|kopia|"  # sv
    r"fra|sendt|til|emne|"  # da/no
    r"van|verzonden|aan|onderwerp|"  # nl
    r"lähettäjä|lähetetty|vastaanottaja|aihe"  # fi
)
_HEADER = re.compile(r"^[ \t]*\*{0,2}(?:" + _HEADER_NAMES + r")[ \t]*\*{0,2}[ \t]*:", re.I)

_SENT_FROM_VERB = (
    r"sent|envoy[ée]|enviado|inviato|verzonden|sendt|skickat|l[äa]hetetty|wys[łl]ane|wys[łl]ano|"
    r"отправлено|надіслано|gesendet|get"
)
_SENT_FROM = re.compile(
    r"^[ \t]*[(<*_\[]*[ \t]*(?:" + _SENT_FROM_VERB + r")[ \t]+"
    r"(?:from|via|with|by|depuis|desde|da|met|vanaf|fra|från|fr[åa]n|z|ze|с|со|из|з|von|mit|for|on)[ \t]+"
    r"(?:(?:my|mon|ma|mi|mijn|min|mitt|mojego|mojej|моего|моей|мого|meinem)[ \t]+)?(.{1,80})$",
    re.I,
)
_DEVICE_WORDS = (
    "iphone", "ipad", "ipod", "android", "mobile", "mobil", "phone", "telefon", "handy", "galaxy", "samsung",
    "blackberry", "outlook", "airmail", "mailbox", "mail", "yahoo", "device", "cell", "tablet", "pc",
    "smartphone", "smartfon", "ti-", "alcatel", "htc", "k-9", "gerät", "appareil", "мобильн", "почт",
    "устройств", "телефон", "смартфон", "яндекс", "aplikacji", "poczta", "ios", "windows", "huawei",
    "xiaomi", "nokia", "sony", "motorola", "pixel", "oneplus", "acompli", "gmail", "aol", "spark", "[mail",
    "mail.ru", "mac", "macbook", "kindle", "lg", "zte", "oppo", "redmi", "honor",
)  # fmt: skip
_SIGNATURE_LITERALS = re.compile(
    r"^[ \t]*(?:"
    r"von meinem .{1,40} gesendet\.?"
    r"|.{0,40}wurde von meinem .{1,60} gesendet\.?"
    r"|(?:someone|sent) from mobile"
    r"|from my (?:iphone|ipad|android|mobile|samsung|galaxy)\b.{0,30}"
    r"|<<sent by .{1,30}>>"
    r"|\((?:sent from .{1,40})\)"
    r"|從我的 ?iphone ?傳送|发自我的 ?iphone|iphoneから送信"
    r"|get (?:\[)?outlook for (?:ios|android).{0,80}"
    r"|wysłane z (?:mojego )?(?:iphone'?a|ipada|telefonu|smartfona|urządzenia).{0,40}"
    r"|отправлено (?:с|из) .{1,50}"
    r"|надіслано з .{1,50}"
    r")[ \t]*$",
    re.I,
)

# Attribution lines end with a "wrote" verb (optionally followed by ':' and dashes).
_WROTE_VERBS = (
    r"wrote|writes|sent|"
    r"napisał\(a\)|napisała|napisał|napisal\(a\)|napisal|pisze|"
    r"написал\(а\)|написала|написал|пишет|"
    r"написав\(ла\)|написав|написала|пише|"
    r"schrieb|schreef|het volgende geschreven|a écrit|a ecrit|ha scritto|escribió|escreveu|"
    r"skrev|skrifaði|kirjoitti|đã viết|napsal\(a\)|napsal|写道|寫道"
)
_WROTE_END = re.compile(r"(?:^|[\s,>\"')\]])(?:" + _WROTE_VERBS + r")\s*[:：]?\s*-*\s*$", re.I)


def _reversed_literals(alternatives: str) -> str:
    """'wrote|napisał\\(a\\)' -> 'etorw|\\)a\\(łasipan': the same words spelt backwards, as a regex."""
    words = [word.replace("\\(", "(").replace("\\)", ")") for word in alternatives.split("|")]
    return "|".join(re.escape(word[::-1]) for word in words)


# An unanchored search for a pattern that ends in '$' tries every start position with every verb
# (tens of microseconds a line); the same pattern spelt backwards is one anchored match on the reversed
# string. _wrote_end(s) is exactly _WROTE_END.search(s) (tests/test_reply.py compares them).
_WROTE_END_REVERSED = re.compile(
    r"\s*-*\s*[:：]?\s*(?:" + _reversed_literals(_WROTE_VERBS) + r")(?:\Z|[\s,>\"')\]])", re.I
)


def _wrote_end(text: str) -> bool:
    return _WROTE_END_REVERSED.match(text[::-1]) is not None


_ON_START = re.compile(
    r"^[ \t>]*[-*_ ]*(?:on|am|le|el|em|il|op|den|på|w dniu|dnia|в|у|at|vào|pe|ma|ti|ke|to|pe|la|su|sø|lø)\b",
    re.I,
)
_EMAIL_LIKE = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+|mailto:")
_DIGIT = re.compile(r"\d")
# "ср, 30 апр. 2025 г. в 15:19, John Doe <doe@example.com>:" and the like: a date, then an address, then ':'
_DATE_EMAIL_COLON = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)*[ \t]*>?[ \t]*\]?[ \t]*>?[ \t]*[:：][ \t]*$")
_DATE_EMAIL_COLON_REVERSED = re.compile(  # the same backwards (see _WROTE_END_REVERSED)
    r"\n?[ \t]*[:：][ \t]*>?[ \t]*\]?[ \t]*>?[ \t]*(?:[\w-]+\.)*[\w-]+@[\w.+'-]+"
)
_ISO_DATE_START = re.compile(
    r"^[ \t]*\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\b.{0,60}(?:GMT[+-]?\d|<[^<>]*@[^<>]*>|@[\w-]+\.[\w.]+)", re.I
)
# Apple Mail in Polish/Russian/German: "Wiadomość napisana przez X <a> w dniu 03.03.2025, o godz. 09:02:"
_APPLE_INTRO = re.compile(
    r"^[\s>]*(?:wiadomość napisana przez|сообщение от|повідомлення від|am .{4,40} um .{3,12} schrieb)"
    r"\s.{3,250}:\s*$",
    re.I,
)
_SCHRIEB_AM = re.compile(r"\b(?:schrieb am|escribió el|a écrit le)\b.{4,80}:[ \t]*$", re.I)
_SEPARATOR = re.compile(
    r"^[ \t>]*[*_]*[ \t]*-{2,}[ \t]*(?:"
    r"original message|original e-?mail message|forwarded message|begin forwarded message|"
    r"oryginalna wiadomość|wiadomość oryginalna|wiadomość przekazana dalej|przekazana wiadomość|"
    r"oryginalna wiadomosc|wiadomosc oryginalna|"
    r"пересылаемое сообщение|исходное сообщение|перенаправленное сообщение|оригинальное сообщение|"
    r"пересланное сообщение|переслане повідомлення|вихідне повідомлення|оригінальне повідомлення|"
    r"ursprüngliche nachricht|originalnachricht|weitergeleitete nachricht|mensaje original|mensaje reenviado|"
    r"message d'origine|message original|message transféré|messaggio originale|messaggio inoltrato|"
    r"oorspronkelijk bericht|doorgestuurd bericht|ursprungligt meddelande|vidarebefordrat meddelande|"
    r"opprinnelig melding|videresendt melding|oprindelig meddelelse|oprindelig besked|videresendt besked|"
    r"alkuperäinen viesti|välitetty viesti|původní zpráva|přeposlaná zpráva|mensagem original|"
    r"mensagem encaminhada|reply message|original"
    r")[ \t]*:?[ \t]*-*[ \t]*[*_]*[ \t]*$",
    re.I,
)
_FORWARD_INTRO = re.compile(
    r"^[ \t>]*(?:begin forwarded message|początek przekazywanej wiadomości|"
    r"начало переадресованного сообщения|"
    r"початок пересланого повідомлення|anfang der weitergeleiteten nachricht|début du message réexpédié|"
    r"inicio del mensaje reenviado)[ \t]*:[ \t]*$",
    re.I,
)
# Outlook's header block flattened to one line: "From: X Sent: Y To: Z Subject: W"
_OUTLOOK_ONE_LINE = re.compile(
    r"^[ \t]*\*{0,2}(?:from|od|от|від|von|de|från|fra|van|da|lähettäjä)[ \t]*\*{0,2}[ \t]*:.{1,200}?"
    r"\b(?:sent|wysłano|wysłane|отправлено|надіслано|gesendet|envoyé(?: le)?|skickat|sendt|verzonden|inviato|"
    r"enviado|date|data|datum|дата|lähetetty)[ \t]*\*{0,2}[ \t]*:",
    re.I,
)


def _is_attribution(line: str) -> bool:
    """One (possibly re-joined) line that introduces quoted history."""
    if len(line) > 400:
        return False
    stripped = line.strip()
    if not stripped:
        return False
    first, last = stripped[0], stripped[-1]
    # Cheap gates first: most text lines end in '.', ',', '!' or '?' and start with a letter.
    if first in "-*_>" and (_SEPARATOR.match(stripped) or _FORWARD_INTRO.match(stripped)):
        return True
    if ":" in stripped[:40] and _OUTLOOK_ONE_LINE.match(stripped):
        return True
    if last in ".!?;,)" and not first.isdigit():
        return False
    if _wrote_end(stripped[-60:]):
        if _ON_START.match(stripped) and (_DIGIT.search(stripped) or "@" in stripped or len(stripped) > 30):
            return True
        if _EMAIL_LIKE.search(stripped) or _DIGIT.search(stripped):
            return True
        # "Jacek Luczak napisał(a):", "Иван Петров пишет:" -- a bare name before a pl/ru/uk verb
        if len(stripped.split()) <= 5 and re.search(
            r"(?:napisał|napisała|napisal|pisze|написал|пишет|пише|написав)", stripped, re.I
        ):
            return True
        return False
    if last in ":：" and (_APPLE_INTRO.match(stripped) or _SCHRIEB_AM.search(stripped[-100:])):
        return True
    if first.isdigit() and _ISO_DATE_START.match(stripped):
        return True
    if (
        last in ":："
        and _DIGIT.search(stripped)
        and len(stripped) < 250
        and _DATE_EMAIL_COLON_REVERSED.match(stripped[-120:][::-1])
    ):
        return True
    return False


def is_reply_header(line: str) -> bool:
    """True for a line that starts quoted history: "On … wrote:", "W dniu … pisze:", "… написал(а):",
    "-----Original Message-----", Outlook's "From: … Sent: …" block. A header wrapped over several
    lines may be passed with its line breaks."""
    if "\n" not in line:
        return _is_attribution(line)
    parts = [p.strip() for p in line.splitlines() if p.strip()]
    if not parts:
        return False
    if _is_attribution(parts[0]) or _is_attribution(" ".join(parts)):
        return True
    # Outlook block: at least two header lines, the first naming the sender
    headers = [p for p in parts if _HEADER.match(p)]
    return len(headers) >= 2 and _HEADER.match(parts[0]) is not None


def _is_mobile_signature(line: str) -> bool:
    stripped = line.strip()
    if not stripped or len(stripped) > 120:
        return False
    if _SIGNATURE_LITERALS.match(stripped):
        return True
    if stripped[0].isalpha() and stripped[:1].lower() not in "sgewvlкоfрнотi":
        return False
    match = _SENT_FROM.match(stripped)
    if not match:
        return False
    words = re.split(r"[\s,.;:!()<>]+", match.group(1).lower())[:3]
    return any(word.startswith(_DEVICE_WORDS) for word in words if word)


def _classify(lines: list[str]) -> list[str]:
    classes: list[str] = []
    in_code = False
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("```"):
            in_code = not in_code
            classes.append("t")
            continue
        if in_code:
            classes.append("t")
        elif not stripped:
            classes.append("e")
        elif _DELIMITER.match(line):
            classes.append("d")
        elif _is_mobile_signature(stripped):
            classes.append("s")
        elif _is_attribution(stripped):
            classes.append("b")
        elif ":" in line and _HEADER.match(line):  # the colon test is cheap, the match is not
            classes.append("h")
        elif _QUOTE.match(line):
            classes.append("q")
        else:
            classes.append("t")
    return classes


# A wrapped attribution: the line that ends it closes with a verb, ':' or '>'.
_MAYBE_HEADER_END = re.compile(r"(?:[:：]|wrote|" + _WROTE_VERBS + r"|>)\s*-*\s*$", re.I)
# _MAYBE_HEADER_END.search(s) spelt backwards (see _WROTE_END_REVERSED)
_MAYBE_HEADER_END_REVERSED = re.compile(
    r"\s*-*\s*(?:[:：]|etorw|" + _reversed_literals(_WROTE_VERBS) + r"|>)", re.I
)


def _maybe_header_end(text: str) -> bool:
    return _MAYBE_HEADER_END_REVERSED.match(text[::-1]) is not None


_ATTRIBUTION_START = re.compile(
    r"^[\s>]*[-*_ ]*(?:(?:on|am|le|el|em|il|op|den|på|w dniu|dnia|vào|at|użytkownik|пользователь)\b"
    r"|\d|\w{2,12}[.,]*\s+\d|\"?[^\s\"]+@)",
    re.I,
)


_COMPLETE_START = re.compile(
    r"^[\s>]*[-*_ ]*(?:(?:on|am|le|el|em|il|op|den|på|w dniu|dnia|vào|at|użytkownik)\b"
    r"|\d|\w{2,12}[.,]*\s+\d)",
    re.I,
)


def _join_wrapped_attributions(lines: list[str], classes: list[str]) -> None:
    """Gmail and others wrap "On ... <\\naddr> wrote:" over 2-5 lines; mark all of them 'b'."""
    for i in range(len(lines)):
        tail = lines[i].rstrip()[-40:]
        if classes[i] in ("e", "d", "s") or not tail or tail[-1] in ".!?;,)" or not _maybe_header_end(tail):
            continue
        if classes[i] == "b" and _COMPLETE_START.match(lines[i]):
            continue  # a whole attribution on one line: the text above it is not part of it
        best = -1
        fallback = -1
        for span in range(1, 6):
            start = i - span
            if start < 0 or classes[start] in ("d", "s"):
                break
            if classes[start] == "e":
                continue
            joined = " ".join(lines[j].strip() for j in range(start, i + 1) if lines[j].strip())
            if len(joined) > 400:
                break
            if classes[start] == "b":
                # the tail of an attribution already recognised on the line above
                if _is_attribution(joined):
                    best = start
                break
            if not _is_attribution(joined):
                continue
            if _ATTRIBUTION_START.match(lines[start]):
                best = start
            elif fallback < 0:
                fallback = start
        start = best if best >= 0 else (fallback if classes[i] != "b" else -1)
        if start >= 0:
            for j in range(start, i + 1):
                classes[j] = "b"


def _split_shared_lines(lines: list[str]) -> list[str]:
    """'reply On Wed, Apr 4, 2012 at 3:59 PM, bob wrote:' -> 'reply' + the attribution."""
    out: list[str] = []
    for line in lines:
        if (
            len(line) < 400
            and ("wrote" in line or "napisał" in line or "написал" in line)
            and _wrote_end(line)
        ):
            match = re.search(r"(?:-{2,}\s*)?\bOn\s+(?:\w{3},?\s+)?(?:\w{3}\s+)?\d", line)
            if match and match.start() > 0 and line[: match.start()].strip():
                out.append(line[: match.start()].rstrip())
                out.append(line[match.start() :])
                continue
        out.append(line)
    return out


# The decisions on the string of line classes. These regexes are the readable specification; several
# backtrack badly on long class strings (_BOTTOM_POSTED exponentially on "bebebe…", _WRAPPED_HEADER_BLOCK
# cubically on "hhh…", others quadratically), so split_reply asks the linear functions below, which
# give exactly their answers (tests/test_reply.py compares them on every short class string).
_BOTTOM_POSTED = re.compile(r"(?:b[^t]+)*b[bqeh]+t[et]*")
_TRAILING_TEXT = re.compile(r"t[et]*$")
_ATTRIBUTION_WITHOUT_QUOTE = re.compile(r"te*b[^q]*$")
_QUOTE_NEXT_TO_ATTRIBUTION = re.compile(r"qb|bq")
_ATTRIBUTION_LONG_QUOTE = re.compile(r"te*b[eqbh]*([te]*)$")
_TEXT_THEN_HISTORY = re.compile(r"te*[qbe]+$")
_WRAPPED_HEADER_BLOCK = re.compile(r"h+[hte]+h+e")
_TEXT_THEN_HEADER_BLOCK = re.compile(r"t[eq]*h{3,}")
_HEADER_RUN = re.compile(r"h{2,}")
_TRAILING_QUOTES = re.compile(r"[eq]+$")
_WORD_CHAR = re.compile(r"\w")


def _bottom_posted(p: str) -> bool:
    """_BOTTOM_POSTED.fullmatch(p): p[:first t] is 'b', then anything, then a 'b' (not second) followed by
    one or more of 'bqeh' only; from the first 't' on only 't' and 'e'."""
    first_t = p.find("t")
    if first_t < 2 or p[0] != "b" or p[first_t + 1 :].strip("et"):
        return False
    head = p[:first_t]
    suffix = len(head.rstrip("bqeh"))  # head[suffix:] is the longest tail of 'bqeh' letters
    last = head.rfind("b", suffix, len(head) - 1)  # a 'b' with at least one letter after it
    # what comes before that 'b' must be empty or a 'b' and at least one more letter
    return last >= 0 and (last != 1 or suffix == 0)


def _trailing_text(p: str) -> int:
    """_TRAILING_TEXT.search(p).start() (r't[et]*$'), or -1."""
    return p.find("t", len(p.rstrip("et")))


def _attribution_without_quote(p: str) -> int:
    """_ATTRIBUTION_WITHOUT_QUOTE.search(p).start() (r'te*b[^q]*$'), or -1 (never before the last q)."""
    match = _ATTRIBUTION_WITHOUT_QUOTE.search(p, p.rfind("q") + 1)
    return match.start() if match else -1


def _attribution_long_quote(p: str) -> tuple[int, str] | None:
    """(start, group 1) of _ATTRIBUTION_LONG_QUOTE.search(p) (r'te*b[eqbh]*([te]*)$'), or None."""
    tail = len(p.rstrip("te"))  # p[tail:] is the longest tail of 't'/'e'
    size = len(p)
    start = p.find("t")
    while start >= 0:
        at = start + 1
        while at < size and p[at] == "e":
            at += 1
        if at < size and p[at] == "b":
            end = at + 1
            while end < size and p[end] in "eqbh":
                end += 1
            if end >= tail:  # the greedy [eqbh]* run reaches the t/e tail: group 1 is what is left
                return start, p[end:]
        start = p.find("t", start + 1)
    return None


def _text_then_history(p: str) -> int:
    """_TEXT_THEN_HISTORY.search(p).start() (r'te*[qbe]+$'), or -1."""
    tail = len(p.rstrip("qbe"))
    return tail - 1 if 0 < tail < len(p) and p[tail - 1] == "t" else -1


_HTE_RUN = re.compile(r"[hte]+")


def _wrapped_header_block(p: str) -> tuple[int, int] | None:
    """(start, end) of _WRAPPED_HEADER_BLOCK.search(p) (r'h+[hte]+h+e'), or None: in the first run of
    'hte' letters whose first 'h' lies at least 3 before its last 'he', from that 'h' to that 'e'."""
    for run in _HTE_RUN.finditer(p):
        segment = run.group()
        last = segment.rfind("he")
        first = segment.find("h")
        if last >= 0 and first + 2 <= last:
            return run.start() + first, run.start() + last + 2
    return None


def _trailing_quotes(p: str) -> int:
    """_TRAILING_QUOTES.search(p).start() (r'[eq]+$'), or -1."""
    tail = len(p.rstrip("eq"))
    return tail if tail < len(p) else -1


def split_reply(text: str) -> ReplySplit:
    """Separate the new text from quoted history and signature; works for top- and bottom-posting
    (interleaved replies keep the quoted lines they answer)."""
    if not text or not text.strip():
        return ReplySplit("", "", "")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = _split_shared_lines(text.split("\n"))
    classes = _classify(lines)
    _join_wrapped_attributions(lines, classes)
    fate = ["keep"] * len(lines)  # keep | quote | sig
    alive = list(range(len(lines)))

    def pattern() -> str:
        return "".join(classes[i] for i in alive)

    def cut_after(position: int, how: str = "quote") -> None:
        """Keep alive[0..position] (inclusive), the rest of the alive lines go to `how`."""
        nonlocal alive
        for i in alive[position + 1 :]:
            fate[i] = how
        alive = alive[: position + 1]

    # 1. everything from the first delimiter on is a signature (or history after it)
    p = pattern()
    first_d = p.find("d")
    if first_d >= 0:
        cut_region = alive[first_d:]
        alive = alive[:first_d]
        history_start = next((i for i in cut_region if classes[i] in "bhq"), None)
        for i in cut_region:
            fate[i] = "quote" if history_start is not None and i >= history_start else "sig"
        if history_start is not None and all(classes[i] in "de" for i in cut_region if i < history_start):
            for i in cut_region:
                fate[i] = "quote"
    # 2. mobile signatures go wherever they are
    for i in alive:
        if classes[i] == "s":
            fate[i] = "sig"
    alive = [i for i in alive if classes[i] != "s"]

    # 3. bottom-posting: quoted history first, the new text at the end
    p = pattern()
    if _bottom_posted(p):
        start = _trailing_text(p)
        if start >= 0:
            for i in alive[:start]:
                fate[i] = "quote"
            alive = alive[start:]
    # 4. attribution not followed by quoted lines (Outlook, webmails): take everything up to it
    p = pattern()
    at = _attribution_without_quote(p)
    if at >= 0 and "qb" not in p and "bq" not in p:
        cut_after(at)
    # 5. attribution followed by a long quote and at most a little text
    p = pattern()
    long_quote = _attribution_long_quote(p)
    if long_quote and long_quote[1].count("t") < 7:
        cut_after(long_quote[0])
    # 6. text, then nothing but quotes and attributions to the end
    p = pattern()
    at = _text_then_history(p)
    if at >= 0:
        cut_after(at)
    # 7. attributions that are left go to the history
    for i in alive:
        if classes[i] == "b":
            fate[i] = "quote"
    alive = [i for i in alive if classes[i] != "b"]
    # 8. a header block wrapped over lines ("Subject: long\n  subject")
    p = pattern()
    block = _wrapped_header_block(p)
    if block:
        for k in range(*block):
            classes[alive[k]] = "h"
    # 9. text followed by an embedded mail's header block: take everything up to it
    p = pattern()
    match = _TEXT_THEN_HEADER_BLOCK.search(p)
    if match:
        cut_after(match.start())
    # 10. header lines left over belong to a forwarded mail's header block (runs of 2+); lone ones are text
    p = pattern()
    drop: set[int] = set()
    for run in _HEADER_RUN.finditer(p):
        drop.update(alive[k] for k in range(run.start(), run.end()))
    for i in drop:
        fate[i] = "quote"
    alive = [i for i in alive if i not in drop]
    # 11. trailing quotes after some text
    p = pattern()
    if "t" in p:
        at = _trailing_quotes(p)
        if at >= 0:
            for i in alive[at:]:
                fate[i] = "quote" if classes[i] == "q" else fate[i]
            alive = alive[:at]

    kept = set(alive)
    reply = "\n".join(lines[i] for i in range(len(lines)) if i in kept).strip()
    quoted = "\n".join(lines[i] for i in range(len(lines)) if i not in kept and fate[i] == "quote").strip()
    signature = "\n".join(lines[i] for i in range(len(lines)) if i not in kept and fate[i] == "sig").strip()
    if reply and not _WORD_CHAR.search(reply):
        # nothing but quote markers and punctuation left: there is no new text
        quoted = (reply + "\n" + quoted).strip()
        reply = ""
    if signature and not signature.strip("-_=+~#*ᐧ—– \n"):
        signature = ""
    return ReplySplit(reply=_rstrip_lines(reply), quoted=quoted, signature=signature)


def _rstrip_lines(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.split("\n"))
