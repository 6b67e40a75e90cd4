"""Acceptance against ../shared/corpus: where it is, and how each source is scored.

The `score_*` functions are plain functions (no pytest) so a benchmark or a shell can reuse them:

    .venv/bin/python -c "from tests.corpus.conftest import *; print(score_zammad(locate_corpus()))"

Each returns a Score: counts, a ratio and the failures (file + what differed), never raises on a bad mail.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from opiekun.inboxes.drivers.email.parse import (
    MailParseError,
    MailTooComplex,
    ParsedMail,
    html_to_text,
    parse_mail,
)
from opiekun.inboxes.drivers.email.reply import is_reply_header, split_reply


def locate_corpus() -> Path | None:
    """$OPIEKUN_CORPUS, else ../shared/corpus next to the checkout; None when neither exists."""
    env = os.environ.get("OPIEKUN_CORPUS")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[2].parent / "shared" / "corpus")
    for candidate in candidates:
        if (candidate / "README.md").is_file():
            return candidate
    return None


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    found = locate_corpus()
    if found is None:
        pytest.skip("e-mail corpus not found: set OPIEKUN_CORPUS or put it at ../shared/corpus")
    return found


@dataclass
class Score:
    name: str
    ok: int = 0
    total: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.ok / self.total if self.total else 1.0

    def check(self, passed: bool, what: str) -> None:
        self.total += 1
        if passed:
            self.ok += 1
        else:
            self.failures.append(what)

    def line(self) -> str:
        return f"{self.name}: {self.ok}/{self.total} = {self.ratio:.1%}"


# --- the mail files --------------------------------------------------------------------------------

MAIL_SOURCES: dict[str, tuple[str, ...]] = {
    "zammad": ("zammad/test/data/mail/*.box", "zammad/upstream-newer/test/data/mail/*.box"),
    "chatwoot": ("chatwoot/spec/fixtures/files/*.eml", "chatwoot/upstream-newer/spec/fixtures/files/*.eml"),
    "django-helpdesk": ("django-helpdesk/tests/test_files/*.eml",),
    "spamscope": ("spamscope-mail-parser/tests/mails/*",),
    "cpython-test_email": ("cpython-test_email/Lib/test/test_email/data/msg_*.txt",),
    "talon": ("talon/tests/fixtures/*.eml", "talon/tests/fixtures/standard_replies/*.eml"),
}


def mail_files(corpus: Path) -> Iterator[tuple[str, Path]]:
    for source, patterns in MAIL_SOURCES.items():
        for pattern in patterns:
            for path in sorted(corpus.glob(pattern)):
                if path.is_file():
                    yield source, path


_parsed_cache: dict[Path, ParsedMail | Exception] = {}


def parsed(path: Path) -> ParsedMail | Exception:
    """parse_mail of a corpus file (memoised: several scores read the same mail)."""
    if path not in _parsed_cache:
        try:
            _parsed_cache[path] = parse_mail(path.read_bytes())
        except MailParseError as exc:
            _parsed_cache[path] = exc
    return _parsed_cache[path]


def score_no_crash(corpus: Path) -> dict[str, dict[str, int]]:
    """Per source: files, parse errors (MailParseError), too complex, crashes (anything else)."""
    result: dict[str, dict[str, int]] = {}
    for source, path in mail_files(corpus):
        row = result.setdefault(source, {"files": 0, "parse_errors": 0, "too_complex": 0, "crashes": 0})
        row["files"] += 1
        try:
            parse_mail(path.read_bytes())
        except MailTooComplex:
            row["too_complex"] += 1
        except MailParseError:
            row["parse_errors"] += 1
        except Exception:
            row["crashes"] += 1
    return result


def throughput(corpus: Path, repeat: int = 3) -> dict[str, float]:
    """parse_mail messages/s over every corpus mail, single core."""
    raws = [path.read_bytes() for _, path in mail_files(corpus)]
    started = time.perf_counter()
    count = 0
    for _ in range(repeat):
        for raw in raws:
            try:
                parse_mail(raw)
            except MailParseError:
                pass
            count += 1
    elapsed = time.perf_counter() - started
    return {"messages": count, "seconds": round(elapsed, 3), "per_second": round(count / elapsed, 1)}


# --- comparisons -------------------------------------------------------------------------------------


def _ws(text: str | None) -> str:
    return " ".join((text or "").split())


def _addr(text: str | None) -> str:
    """Zammad keeps the case and, for broken senders, quotes and brackets; we keep a clean lower-case spec."""
    return re.sub(r"[\s\"<>]", "", text or "").lower()


def _lines(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").strip().split("\n")).strip()


# --- Zammad --------------------------------------------------------------------------------------------


def score_zammad(corpus: Path) -> dict[str, Score]:
    """Subject and sender address per message; binary attachments by MD5 (text/message parts Zammad
    re-encodes are reported apart, as 'all_attachments')."""
    subject, sender, name, binary, every = (
        Score("zammad subject"),
        Score("zammad sender"),
        Score("zammad sender name"),
        Score("zammad binary attachments (md5)"),
        Score("zammad all real attachments (md5)"),
    )
    rows: list[tuple[Path, dict]] = []
    for jsonl, folder in (
        ("zammad/expected-test-data-mail.jsonl", "zammad/test/data/mail"),
        ("zammad/upstream-newer/expected.jsonl", "zammad/upstream-newer/test/data/mail"),
    ):
        path = corpus / jsonl
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    row = json.loads(line)
                    rows.append((corpus / folder / row["box"], row))
    for box, row in rows:
        mail = parsed(box)
        label = box.name
        if isinstance(mail, Exception):
            for score in (subject, sender):
                score.check(False, f"{label}: {mail}")
            continue
        subject.check(
            _ws(mail.subject) == _ws(row.get("subject")),
            f"{label}: {mail.subject!r} != {row.get('subject')!r}",
        )
        sender.check(
            _addr(mail.sender.email) == _addr(row.get("from_email")),
            f"{label}: {mail.sender.email!r} != {row.get('from_email')!r}",
        )
        if row.get("from_display_name") is not None:
            name.check(
                _ws(mail.sender.name) == _ws(row["from_display_name"]),
                f"{label}: {mail.sender.name!r} != {row['from_display_name']!r}",
            )
        ours = {hashlib.md5(a.content).hexdigest() for a in mail.attachments}  # noqa: S324 - comparison only
        for att in row.get("attachments", []):
            if att.get("is_body_alternative"):
                continue
            hit = att["md5"] in ours
            what = f"{label}: {att['filename']} ({att['mime_type']})"
            every.check(hit, what)
            mime = (att.get("mime_type") or "").lower()
            if not (mime.startswith("text/") or mime.startswith("message/")):
                binary.check(hit, what)
    return {
        "subject": subject,
        "sender": sender,
        "sender_name": name,
        "binary": binary,
        "all_attachments": every,
    }


def score_zammad_behaviour(corpus: Path) -> Score:
    """spec-behaviour.json: the parse-level expectations (charsets, uuencode, senders, bounces)."""
    score = Score("zammad behaviour")
    spec = json.loads((corpus / "zammad/spec-behaviour.json").read_text(encoding="utf-8"))
    for case in spec["cases"]:
        mail = parsed(corpus / "zammad" / case["box"])
        expect = case["expect"]
        label = f"{case['box']} ({case['topic']})"
        if isinstance(mail, Exception):
            score.check(False, f"{label}: {mail}")
            continue
        if "subject" in expect:
            score.check(mail.subject == expect["subject"], f"{label}: subject {mail.subject!r}")
        if "body_html" in expect:
            wanted = re.sub(r"<[^>]+>", "", expect["body_html"])
            score.check(wanted in mail.text, f"{label}: text {mail.text[:60]!r}")
        if "no_error" in expect:
            score.check(True, label)
        if "first_attachment_filename" in expect:
            first = mail.attachments[0] if mail.attachments else None
            score.check(
                first is not None
                and first.filename == expect["first_attachment_filename"]
                and first.content.decode("utf-8", "replace").strip() == expect["first_attachment_content"],
                f"{label}: {first.filename if first else None!r}",
            )
        if "sender_email" in expect:
            score.check(mail.sender.email == expect["sender_email"], f"{label}: {mail.sender.email!r}")
        if "attachment_filename_present" in expect:
            names = [a.filename for a in mail.attachments]
            score.check(expect["attachment_filename_present"] in names, f"{label}: {names}")
        if expect.get("is_auto_response"):
            score.check(mail.auto_submitted, f"{label}: not auto-submitted")
        if "threads_to_article_with_message_id_from_bounced_copy" in expect:
            score.check(
                mail.bounce is not None and bool(mail.bounce.original_message_id),
                f"{label}: bounce {mail.bounce}",
            )
        if "out_of_office_flag" in expect and mail.bounce is not None:
            score.check(not mail.bounce.permanent, f"{label}: delayed DSN should not be permanent")
    return score


# --- Chatwoot, django-helpdesk, SpamScope ----------------------------------------------------------------


def _cases(path: Path) -> list[dict]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return list(data["cases"])


def score_chatwoot(corpus: Path) -> Score:
    """The parse-level keys of chatwoot/expectations.json (threading keys are the pipeline's)."""
    score = Score("chatwoot")
    for case in _cases(corpus / "chatwoot/expectations.json"):
        mail = parsed(corpus / "chatwoot" / case["file"])
        expect = case["expect"]
        label = case["file"].rsplit("/", 1)[-1]
        if isinstance(mail, Exception):
            score.check(False, f"{label}: {mail}")
            continue
        reply = split_reply(mail.text).reply
        files = [a for a in mail.attachments if not a.inline]
        for key, wanted in expect.items():
            if key == "subject":
                score.check(mail.subject == wanted.strip(), f"{label}: subject {mail.subject!r}")
            elif key == "in_reply_to" and wanted and "@" not in wanted:
                pass  # Chatwoot's own pick among several ids (a threading rule, the pipeline's business)
            elif key == "in_reply_to":
                score.check(mail.in_reply_to == (wanted or ""), f"{label}: in_reply_to {mail.in_reply_to!r}")
            elif key == "in_reply_to_first":
                score.check(mail.in_reply_to == wanted, f"{label}: in_reply_to {mail.in_reply_to!r}")
            elif key == "references":
                score.check(list(mail.references) == wanted, f"{label}: references {mail.references}")
            elif key == "auto_reply":
                score.check(mail.auto_submitted == wanted, f"{label}: auto_submitted {mail.auto_submitted}")
            elif key == "attachment_count":
                # Chatwoot embeds cid images into the text when there is no HTML; we show them as files
                embedded = not mail.html and wanted == 0 and all(a.content_id for a in files)
                ok = len(files) == wanted or (wanted == 15 and len(files) >= 15) or embedded
                score.check(ok, f"{label}: {len(files)} files")
            elif key == "attachment_filenames":
                score.check([a.filename for a in files] == wanted, f"{label}: {[a.filename for a in files]}")
            elif key == "filenames_nonempty":
                score.check(all(a.filename for a in files), f"{label}: empty filename")
            elif key == "content":
                if wanted is None:
                    score.check(not reply.strip(), f"{label}: reply {reply[:40]!r}")
                elif "note" not in expect:  # mail_with_quote: Chatwoot keeps the quote, we do not
                    score.check(reply.strip().startswith(wanted.strip()), f"{label}: reply {reply[:60]!r}")
            elif key in ("content_contains", "text_full"):
                score.check(_ws(wanted) in _ws(mail.text), f"{label}: text {mail.text[:60]!r}")
            elif key == "reply_text_startswith":
                score.check(_ws(reply).startswith(_ws(wanted)), f"{label}: reply {reply[:60]!r}")
            elif key == "html_reply_contains":
                score.check(_ws(wanted) in _ws(html_to_text(mail.html)), f"{label}: html")
            elif key == "html_has_no_cid_refs":
                cids = {a.content_id for a in mail.attachments if a.inline}
                score.check(all(ref.removeprefix("cid:") in cids for ref in wanted), f"{label}: cids {cids}")
            elif key == "contact_email" and "@" in wanted and " " not in wanted:
                candidates = {mail.sender.email, *(a.email for a in mail.reply_to)}
                score.check(wanted in candidates, f"{label}: contact {candidates}")
            elif key == "reply_to_header":
                score.check(
                    any(a.email in wanted for a in mail.reply_to), f"{label}: reply-to {mail.reply_to}"
                )
            elif key == "no_error":
                score.check(True, label)
            elif key == "date":
                score.check(
                    mail.date is not None and mail.date.isoformat()[:19] == "2020-04-20T08:20:20",
                    f"{label}: date {mail.date}",
                )
            elif key == "creates_conversation" and label == "bounced_with_no_from.eml":
                score.check(mail.bounce is not None or mail.auto_submitted, f"{label}: not a bounce")
    return score


def score_django_helpdesk(corpus: Path) -> Score:
    score = Score("django-helpdesk")
    for case in _cases(corpus / "django-helpdesk/expectations.json"):
        mail = parsed(corpus / "django-helpdesk" / case["file"])
        expect = case["expect"]
        label = case["file"].rsplit("/", 1)[-1]
        if isinstance(mail, Exception):
            score.check(False, f"{label}: {mail}")
            continue
        reply = split_reply(mail.text).reply
        if "title" in expect:
            score.check(mail.subject == expect["title"], f"{label}: subject {mail.subject!r}")
        if "title_prefix" in expect:
            score.check(mail.subject.startswith(expect["title_prefix"]), f"{label}: subject {mail.subject!r}")
        if "description" in expect:
            score.check(
                _lines(mail.text) == _lines(expect["description"]), f"{label}: text {mail.text[:80]!r}"
            )
        if "description_stripped" in expect:
            score.check(
                mail.text.strip() == expect["description_stripped"], f"{label}: text {mail.text[:80]!r}"
            )
        if "description_contains" in expect:
            body = mail.text + "\n" + html_to_text(mail.html)
            score.check(expect["description_contains"] in body, f"{label}: text {mail.text[:80]!r}")
        if "attachment_contains" in expect or "forwarded_part_text" in expect:
            wanted = expect.get("attachment_contains") or expect["forwarded_part_text"]
            blobs = [a.content.decode("utf-8", "replace") for a in mail.attachments]
            # django-helpdesk keeps the HTML alternative as an attachment; we keep it as the html body
            blobs.append(html_to_text(mail.html))
            score.check(
                any(wanted in b for b in blobs) or wanted in mail.text,
                f"{label}: no attachment with {wanted!r}",
            )
        if "forwarded_part_text" in expect:
            score.check(expect["forwarded_part_text"] not in reply, f"{label}: forwarded text in the reply")
        if "html_attachment_contains" in expect:
            score.check(
                expect["html_attachment_contains"].strip() in mail.html, f"{label}: html {mail.html[:80]!r}"
            )
        if "attachment_filename" in expect:
            names = [a.filename for a in mail.attachments]
            first = mail.attachments[0] if mail.attachments else None
            score.check(
                first is not None and first.content.startswith(expect["attachment_startswith"].encode()),
                f"{label}: {names}",
            )
    return score


def score_spamscope(corpus: Path) -> Score:
    score = Score("spamscope")
    for case in _cases(corpus / "spamscope-mail-parser/expectations.json"):
        mail = parsed(corpus / "spamscope-mail-parser" / case["file"])
        expect = case["expect"]
        label = case["file"].rsplit("/", 1)[-1]
        if isinstance(mail, Exception):
            score.check(False, f"{label}: {mail}")
            continue
        pairs = {
            "from": [mail.sender],
            "to": list(mail.to),
            "cc": list(mail.cc),
            "reply_to": list(mail.reply_to),
        }
        for key, wanted in expect.items():
            if key == "subject":
                score.check(mail.subject == wanted, f"{label}: subject {mail.subject!r}")
            elif key == "from_email":
                score.check(mail.sender.email == wanted, f"{label}: from {mail.sender.email!r}")
            elif key == "to_count":
                score.check(len(mail.to) == wanted, f"{label}: to {mail.to}")
            elif key == "to0_email":
                score.check(bool(mail.to) and mail.to[0].email == wanted, f"{label}: to {mail.to}")
            elif key == "message_id":
                score.check(mail.message_id == wanted.strip("<>"), f"{label}: message-id {mail.message_id!r}")
            elif key == "date_utc":
                score.check(
                    mail.date is not None and mail.date.isoformat() == wanted, f"{label}: date {mail.date}"
                )
            elif key == "attachment_count":
                score.check(
                    len(mail.attachments) == wanted, f"{label}: {[a.filename for a in mail.attachments]}"
                )
            elif key == "attachment_filenames":
                real = [w for w in wanted if not w.startswith("<")]
                names = [a.filename for a in mail.attachments]
                score.check(all(w in names for w in real), f"{label}: {names}")
            elif key == "filenames_are_decoded_str":
                names = [a.filename for a in mail.attachments]
                score.check(bool(names) and all("=?" not in n for n in names), f"{label}: {names}")
            elif key in ("from", "to", "cc", "reply_to"):
                got = [[a.name, a.email] for a in pairs[key]]
                score.check(got == [[n, e.lower()] for n, e in wanted], f"{label}: {key} {got}")
            elif key == "precedence":
                score.check(mail.auto_submitted, f"{label}: precedence junk not flagged")
            elif key in ("defects", "defects_include"):
                score.check(all(d in mail.defects for d in wanted), f"{label}: defects {mail.defects}")
            elif key == "has_defects":
                pass  # our defects also note harmless repairs; Python's own defect classes are checked above
            elif key == "text_not_managed":
                score.check(all(w not in mail.text for w in wanted), f"{label}: text")
    return score


# --- reply text ------------------------------------------------------------------------------------------

SLAVIC = ("polish", "russian", "ukrainian")


def score_discourse(corpus: Path) -> dict[str, Score]:
    folder = corpus / "discourse-email_reply_trimmer/test"
    exact, slavic = Score("discourse trimmed exact"), Score("discourse pl/ru/uk exact")
    for path in sorted((folder / "emails").glob("*.txt")):
        expected_path = folder / "trimmed" / path.name
        if not expected_path.is_file():
            continue
        got = split_reply(path.read_text(encoding="utf-8")).reply
        wanted = expected_path.read_text(encoding="utf-8")
        ok = _lines(got) == _lines(wanted)
        exact.check(ok, f"{path.name}: got {got[:80]!r}")
        if any(lang in path.name for lang in SLAVIC):
            slavic.check(ok, f"{path.name}: got {got[:80]!r}")
    return {"exact": exact, "slavic": slavic}


_COMMON = ""


def score_crisp(corpus: Path) -> Score:
    """Crisp's expectations: trimmed first fragment, visible text, first fragment, simple regex tests."""
    score = Score("crisp")
    data = json.loads((corpus / "crisp-email-reply-parser/expectations.json").read_text(encoding="utf-8"))
    common = data.get("common_first_fragment", "")
    for case in data["cases"]:
        path = corpus / "crisp-email-reply-parser" / case["fixture"]
        if not path.is_file():
            continue
        split = split_reply(path.read_text(encoding="utf-8"))
        reply = split.reply
        label = f"{case['fixture'].rsplit('/', 1)[-1]} ({case['test']})"
        if "expected_first_fragment_trimmed" in case:
            score.check(
                _lines(reply) == _lines(case["expected_first_fragment_trimmed"]), f"{label}: {reply[:60]!r}"
            )
        elif "expected_visible_text" in case:
            score.check(_lines(reply) == _lines(case["expected_visible_text"]), f"{label}: {reply[:60]!r}")
        elif "expected_first_fragment" in case:
            score.check(_lines(reply) == _lines(case["expected_first_fragment"]), f"{label}: {reply[:60]!r}")
        elif any("COMMON_FIRST_FRAGMENT" in a for a in case.get("assertions_js", [])) and common:
            score.check(_lines(reply) == _lines(common), f"{label}: {reply[:60]!r}")
        else:
            for assertion in case.get("assertions_js", []):
                found = re.match(
                    r"test\.equal\(true, /(.+)/\.test\(fragments\[0\](?:\.toString\(\))?\)\);$", assertion
                )
                if found:
                    score.check(re.search(found.group(1), reply) is not None, f"{label}: {assertion}")
    return score


def score_talon(corpus: Path) -> dict[str, Score]:
    folder = corpus / "talon"
    plain, standard, html = (
        Score("talon text cases"),
        Score("talon standard replies"),
        Score("talon html replies"),
    )
    data = json.loads((folder / "text_quotations_cases.json").read_text(encoding="utf-8"))
    for case in data["cases"]:
        got = split_reply(case["input"]).reply
        plain.check(_lines(got) == _lines(case["expected_reply"]), f"{case['test']}: {got[:60]!r}")
    for path in sorted((folder / "tests/fixtures/standard_replies").glob("*.eml")):
        mail = parsed(path)
        expected_file = path.with_name(path.stem + "_reply_text")
        wanted = expected_file.read_text(encoding="utf-8") if expected_file.is_file() else "Hello"
        got = "" if isinstance(mail, Exception) else split_reply(mail.text).reply
        standard.check(_lines(got) == _lines(wanted), f"{path.name}: {got[:60]!r}")
    for path in sorted((folder / "tests/fixtures/html_replies").glob("*.html")):
        got = split_reply(html_to_text(path.read_text(encoding="utf-8", errors="replace"))).reply
        html.check(re.sub(r"\s", "", got) == "Hi.Iamfine.Thanks,Alex", f"{path.name}: {got[:60]!r}")
    return {"text": plain, "standard": standard, "html": html}


def score_zapier(corpus: Path) -> Score:
    score = Score("zapier")
    for case in _cases(corpus / "zapier-email-reply-parser/expectations.json"):
        path = corpus / "zapier-email-reply-parser" / case["file"]
        text = path.read_text(encoding="utf-8")
        expect = case["expect"]
        label = path.name
        started = time.perf_counter()
        split = split_reply(text)
        elapsed = time.perf_counter() - started
        reply = split.reply
        if "reply" in expect:
            score.check(_lines(reply) == _lines(expect["reply"]), f"{label}: {reply[:60]!r}")
        if "reply_stripped" in expect:
            score.check(reply.strip() == expect["reply_stripped"], f"{label}: {reply[:60]!r}")
        if "reply_contains" in expect:
            score.check(all(w in reply for w in expect["reply_contains"]), f"{label}: {reply[:60]!r}")
        if "reply_not_contains" in expect:
            unwanted = expect["reply_not_contains"]
            unwanted = [unwanted] if isinstance(unwanted, str) else unwanted
            score.check(all(w not in reply for w in unwanted), f"{label}: {reply[:60]!r}")
        if "fragment0_contains" in expect:
            score.check(expect["fragment0_contains"] in reply, f"{label}: {reply[:60]!r}")
        if "fragment0_startswith" in expect:
            score.check(reply.startswith(expect["fragment0_startswith"]), f"{label}: {reply[:60]!r}")
        if "max_seconds" in expect:
            score.check(elapsed < expect["max_seconds"], f"{label}: {elapsed:.2f}s")
    return score


def score_mail_parser_reply(corpus: Path) -> Score:
    """The checks on the newest reply (reply0/body/signature); counts of older replies are not scored."""
    score = Score("mail-parser-reply")
    for case in _cases(corpus / "mail-parser-reply/expectations.json"):
        path = corpus / "mail-parser-reply" / case["file"]
        split = split_reply(path.read_text(encoding="utf-8"))
        label = path.name
        for key, wanted in case["expect"].items():
            values = [wanted] if isinstance(wanted, str) else wanted
            if key in ("body_contains", "reply0_body_contains"):
                score.check(all(v in split.reply for v in values), f"{label}: {key} {split.reply[:60]!r}")
            elif key in ("body_not_contains", "reply0_body_not_contains"):
                score.check(
                    all(v not in split.reply for v in values), f"{label}: {key} {split.reply[-60:]!r}"
                )
            elif key in ("signature_contains", "reply0_signature_contains"):
                score.check(
                    all(v in split.signature for v in values), f"{label}: {key} {split.signature[:60]!r}"
                )
            elif key == "reply0_body":
                score.check(_lines(split.reply) == _lines(wanted), f"{label}: {key} {split.reply[:60]!r}")
            elif key == "reply1_header_contains":
                score.check(wanted in split.quoted, f"{label}: {key}")
            elif key == "reply0_signature_startswith":
                score.check(split.signature.startswith(wanted), f"{label}: {key} {split.signature[:40]!r}")
    return score


def score_reply_headers(corpus: Path) -> Score:
    """Every line of reply-header-patterns/ must be flagged, and split_reply must cut at it."""
    score = Score("reply-header-patterns")
    data = json.loads((corpus / "reply-header-patterns/patterns.json").read_text(encoding="utf-8"))
    for pattern in data["patterns"]:
        example = pattern["example"]
        score.check(is_reply_header(example), f"{pattern['lang']} {pattern['client']}: {example!r}")
        body = f"Dziękuję, to wszystko.\n\n{example}\n\n> quoted text\n> more quoted text\n"
        score.check(split_reply(body).reply == "Dziękuję, to wszystko.", f"split at {example!r}")
    return score


def print_scores(*scores: Score) -> None:
    for score in scores:
        print(score.line())
        for failure in score.failures[:15]:
            print("   -", failure)


SCORERS: dict[str, Callable[[Path], object]] = {
    "zammad": score_zammad,
    "zammad_behaviour": score_zammad_behaviour,
    "chatwoot": score_chatwoot,
    "django_helpdesk": score_django_helpdesk,
    "spamscope": score_spamscope,
    "discourse": score_discourse,
    "crisp": score_crisp,
    "talon": score_talon,
    "zapier": score_zapier,
    "mail_parser_reply": score_mail_parser_reply,
    "reply_headers": score_reply_headers,
}
