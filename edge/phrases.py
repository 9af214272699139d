"""Deciding whether a speaker transcript is a call for help, a take-back, or ordinary talk.

This module owns the *language* half of the AI-speaker emergency trigger: it turns one
utterance transcript into an :class:`Intent`. It does not own timing (the cancel window,
repeated calls), sending, or talking back to the resident; the edge agent does that.
It is pure and uses only the standard library, so it runs unchanged on a speaker.

How an utterance is read
------------------------
Korean transcripts come with arbitrary spacing, particles and politeness endings, so every
rule runs on :func:`normalize` output (NFKC, case-folded, only letters and decimal digits
kept; no spaces) after :func:`strip_wake_words`. Rules are families of stems
(``살려``, ``도와``, ``아파`` ...) plus a check on the few syllables around each hit that
tells a live call ("살려줘요") from the same stem used otherwise ("살려고", "살려줘서 고마워").
Each hit is judged on its own, so one live hit anywhere makes the utterance EMERGENCY.

Decisions (see ``edge/PHRASES.md`` for the full record)
-------------------------------------------------------
* A false alarm costs one phone call from the control centre; a miss can cost a life.
  Ambiguous utterances are therefore EMERGENCY, except clear titles/quotations and help
  with a task.
* CANCEL only when there is no live emergency hit: "괜찮아 살려줘" and "넘어졌는데
  괜찮아" are EMERGENCY. "안 괜찮아" (not okay) is EMERGENCY, not CANCEL.
* Titles: a hit directly followed by an adnominal quotative (라는/이라는/란/이란/라고 하는)
  and a media noun (노래, 영화, 프로그램 ...) is a title. In a request to play media
  (틀어/재생/들려/보여 + 노래/곡/음악/영상 ...) hits *before* the play verb are the title.
  Any stop word (꺼, 그만, 멈춰, 말고 ...) voids both exemptions: "노래 꺼 살려줘".
  Cancel phrases in titles are not cancels either ("괜찮아라는 노래 틀어줘").
* Task help: 도와줘 right after a nominalised verb (…는 거/것/걸, …기) or a household
  task noun (숙제, 요리, 설거지 ...) is about the task, unless the verb is about the body
  getting up or moving ("일어나는 것 좀 도와줘" is EMERGENCY). "이거 좀 도와줘" has a
  demonstrative, not a verb, and is EMERGENCY.
* Pain must be present and the speaker's own: past (아팠), negated (안 아파, 아프지 않아,
  아픈 데 없어), conditional (아프면, 아플 때), third person or hearsay (아파했어, 아프대,
  아프더라), a connective followed by a past main clause ("아파서 병원 다녀왔어"), and
  heartache (마음이 아파) are not emergencies. "가슴이 아파" is, whatever was meant.
* Reported speech: "살려달라고 하더라/했대" (retrospective -더- or hearsay -대) reports
  somebody else's earlier call and is ORDINARY; "살려달라고 했잖아" and "옆집에서 살려달라고
  해" (present) are EMERGENCY. "살려달라고 안 했어" denies a call.
* 119/112, 구급차, 응급/위급 anywhere are EMERGENCY, including "119 번호가 뭐야": someone
  asking an AI speaker how to reach 119 most likely needs it. Only titles, media requests
  and negations ("119 부르지 마" - a cancel) are exempt.
* Extra phrases from configuration are plain substrings of the normalized text, with no
  exemptions: the person configuring them chose them for this resident.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class Intent(StrEnum):
    """What the resident meant by one utterance."""

    EMERGENCY = "emergency"
    CANCEL = "cancel"
    ORDINARY = "ordinary"


DEFAULT_WAKE_WORDS: tuple[str, ...] = (
    "아리아",
    "팅커벨",
    "지니야",
    "기가지니",
    "헤이 카카오",
    "샐리야",
    "클로바",
    "헤이 클로바",
    "알렉사",
    "빅스비",
    "하이 빅스비",
    "시리야",
    "헤이 시리",
    "헤이 구글",
    "오케이 구글",
    "alexa",
    "hey google",
    "ok google",
    "hey siri",
)


@dataclass(frozen=True)
class PhraseRules:
    """Wake words and per-resident extra phrases; display forms, normalized when matched."""

    wake_words: tuple[str, ...] = DEFAULT_WAKE_WORDS
    emergency_phrases: tuple[str, ...] = ()
    cancel_phrases: tuple[str, ...] = ()


DEFAULT_RULES = PhraseRules()


def normalize(text: str) -> str:
    """NFKC, case-fold, and keep only letters and decimal digits (no spaces, no punctuation).

    Other scripts' letters are kept too: dropping them would glue their neighbours together.
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if _is_kept(ch))


def _is_kept(ch: str) -> bool:
    category = unicodedata.category(ch)
    return category[0] == "L" or category == "Nd"


def strip_wake_words(normalized: str, rules: PhraseRules = DEFAULT_RULES) -> str:
    """Remove wake words at the start of an already normalized utterance, repeated or mixed."""
    # Longest first, so "헤이클로바" is not left as "헤이" + rest by a shorter "클로바" rule.
    words = sorted({w for w in map(normalize, rules.wake_words) if w}, key=len, reverse=True)
    text = normalized
    stripped = True
    while stripped and text:
        stripped = False
        for word in words:
            if text.startswith(word):
                text = text[len(word) :]
                stripped = True
                break
    return text


def classify(utterance: str, rules: PhraseRules = DEFAULT_RULES) -> Intent:
    """EMERGENCY, CANCEL or ORDINARY for one transcript. Never raises; "" is ORDINARY."""
    if not isinstance(utterance, str):
        # A bad transcript type must not take the agent down; there is nothing to read.
        return Intent.ORDINARY
    text = strip_wake_words(normalize(utterance), rules)
    if not text:
        return Intent.ORDINARY
    if _contains_any(text, rules.emergency_phrases):
        return Intent.EMERGENCY
    context = _Context.of(text)
    if _has_emergency(context):
        return Intent.EMERGENCY
    if _contains_any(text, rules.cancel_phrases) or _has_cancel(context):
        return Intent.CANCEL
    return Intent.ORDINARY


def _contains_any(text: str, phrases: tuple[str, ...]) -> bool:
    # An extra phrase that normalizes to "" (e.g. "!!") would match everything.
    return any(p and p in text for p in map(normalize, phrases))


# --- Hangul helpers -----------------------------------------------------------------------

_SYLLABLE_FIRST = 0xAC00
_SYLLABLE_LAST = 0xD7A3
_FINALS = 28
_FINAL_N = 4  # ㄴ
_FINAL_L = 8  # ㄹ
_FINAL_SS = 20  # ㅆ


def _final(ch: str) -> int:
    """Index of the final consonant of a Hangul syllable; -1 if ``ch`` is not one."""
    code = ord(ch)
    if _SYLLABLE_FIRST <= code <= _SYLLABLE_LAST:
        return (code - _SYLLABLE_FIRST) % _FINALS
    return -1


def _has_past_tense(window: str) -> bool:
    # Past tense shows as a final ㅆ (았/었/였/했/왔 ...); 있 (exist) and 겠 (will) also end
    # in ㅆ but are not past.
    return any(_final(ch) == _FINAL_SS and ch not in "있겠" for ch in window)


# --- Context: titles and media requests ----------------------------------------------------

_MEDIA_NOUN = (
    r"(?:노래|곡|음악|트로트|가요|동요|영상|동영상|영화|드라마|방송|프로그램|다큐|뮤직|앨범"
    r"|라디오|유튜브|채널|가사|제목|책|소설|만화|웹툰|뮤지컬|연극)"
)
# An adnominal quotative then (at most three syllables, e.g. "옛날") a media noun.
_TITLE_AFTER = re.compile(
    r".{0,4}?(?:이라고하는|라고하는|라고불리는|이라는|라는|이란|란).{0,3}?" + _MEDIA_NOUN
)
# "불러" is "call" for 119 but "sing" for a song, so it only counts right after a song noun.
_PLAY_VERB = r"(?:틀어|재생|들려|보여|(?:노래|곡|동요|가요|트로트)(?:를|을|좀|하나|한곡|한번)*불러)"
_PLAY_IN_TEXT = re.compile(_PLAY_VERB)
_MEDIA_IN_TEXT = re.compile(_MEDIA_NOUN)
# In a media request a title runs straight into the media noun or the play verb. A connective
# ending (아파서, 살려고, 아픈데, 아프니까, 아프지만, 아프면) means a clause of its own:
# "가슴이 아파서 그래, 음악 좀 틀어줘" is pain, not a title.
_TITLE_BEFORE_PLAY = re.compile(r"[^서고니데만면]{0,3}?(?:" + _MEDIA_NOUN + "|" + _PLAY_VERB + ")")
_STOP_MEDIA = re.compile(r"꺼|끄|끈|멈|그만|정지|중지|말고|틀지|조용")


@dataclass(frozen=True)
class _Context:
    text: str
    exemptions_allowed: bool
    play_verb_at: int  # start of the last play verb in a media request, -1 if none

    @classmethod
    def of(cls, text: str) -> _Context:
        allowed = _STOP_MEDIA.search(text) is None
        play_at = -1
        if allowed and _MEDIA_IN_TEXT.search(text):
            for m in _PLAY_IN_TEXT.finditer(text):
                play_at = m.start()
        return cls(text, allowed, play_at)

    def is_title(self, start: int, end: int) -> bool:
        """Whether the hit at ``start:end`` names a song/film/programme rather than speaks."""
        if not self.exemptions_allowed:
            return False
        if _TITLE_AFTER.match(self.text, end):
            return True
        # Korean is verb-final: a title is the object, so it comes before the play verb.
        return start < self.play_verb_at and _TITLE_BEFORE_PLAY.match(self.text, end) is not None


# --- Emergency families ------------------------------------------------------------------

_GRATITUDE = r"(?:줘서|주셔서|주어서)(?:정말|너무|진짜|참|넘)?(?:고마|고맙|감사|다행)"
_DONE = r"(?:줬|주었)(?!으면)"
_ALLOWED_NOT = r"(?:줘|주셔|주)도(?:돼|되|괜찮)"

_SAVE = re.compile(r"(?<!되)살려")  # 되살려 = restore, not rescue
# 살다 "to live" + -려고/-려면/-려는 ("오래 살려면"); thanks and past rescues.
_SAVE_NOT_CALL = re.compile(rf"고|면|는|{_GRATITUDE}|{_DONE}|{_ALLOWED_NOT}")

_HELP = re.compile(r"도와(?=줘|주|달|줄|조|쥬)")
_HELP_NOT_CALL = re.compile(
    rf"{_GRATITUDE}|{_DONE}|준|주신|주던|줄게|줄께|주께|{_ALLOWED_NOT}|주지(?:마|말)|줄필요"
)
_HELP_NEEDED = re.compile(r"도움(?:이|을|좀)?(?:필요|요청)")
_HELP_NOT_NEEDED = re.compile(r"(?:는|가|도)?(?:없|하지않|치않|안)")
_TASK_NOMINAL = re.compile(r"(.)(?:거|것|걸)(?:을|를|도|만|이)?(?:좀|쫌)?$")
_TASK_GI = re.compile(r"(.)기(?:를|도|만|에)?(?:좀|쫌)?$")
# 여기/거기/저기/요기/얘기/아기 end in 기 but are places or people, not nominalised verbs.
_NOT_GI_NOMINAL = frozenset("여거저요고조아애얘")
_TASK_NOUN = re.compile(
    r"(?:숙제|공부|요리|청소|설거지|빨래|정리|이사|검색|예약|주문|계산|번역|문자|퀴즈|게임)"
    r"(?:를|을|도|만|에|하는데)?(?:좀|쫌)?$"
)
_BODY_VERB = re.compile(r"일어나|일어서|일어날|움직|걷|걸어|걸을|숨|화장실|병원|나가")

# Indirect quotation of a call, then a retrospective (-더-/-던) or hearsay (-대) ending.
_QUOTED = r"(?:줘|줘요|주세요|달라|줘라|주라|달래)?(?:라고|고|구|라구)?"
_REPORTED_CALL = re.compile(
    r"(?:달라|줘라|주라)(?:고|구)(?:하|그러|소리치|소리지르|외치|울)?(?:더|던)"
    r"|(?:달라|줘라|주라)(?:고|구)(?:했|그랬|한|그런)(?:대|다더|다던)"
    r"|달래(?:더|던)"
)
_DENIED_CALL = re.compile(
    _QUOTED + r"(?:안했|안그랬|안한|한적없|한적이없|한거아니|한게아니|한건아니|하지않았"
    r"|말한거아니|말한적없)"
)

_SERVICES = re.compile(
    r"(?<![0-9])(?:119|112)(?![0-9])|일일구|구급차|구급대|앰뷸런스|앰블런스|엠뷸런스|엠블런스"
    r"|응급|위급|경찰(?:좀|을|를)?(?:불러|부르|와|신고)"
)
_SERVICES_NOT_CALL = re.compile(
    r".{0,2}?(?:에|를|을|는|은|좀|이|가)?"
    r"(?:(?:부르지|전화하지|연락하지|신고하지|보내지)(?:마|말|않아도)|안(?:불러|해|와)도"
    r"|(?:는|은|이|가|도)?필요(?:는|가|도)?(?:없|하지않|치않|안))"
    r"|상황(?:은|이)?(?:아니|아냐)|(?:은|이)?(?:아니|아냐)"
)

_PAIN = re.compile(r"아[프파퍼픈팠플픔]")
# Words that merely contain 아파/아프, also across a lost space ("좋아 파티", "좋아 프로").
_PAIN_LOOKALIKE = re.compile(
    r"아(?:파(?:트|란|랑|일|티|스타|전|김치|업|악|견|출|손|괴|산|격|장|리|이|마|는|치)"
    r"|프(?:로|린|리|라|레|랑|간))"
)
# Read from the syllable after 아: past, future/conditional, noun, third person, negated,
# nothing-hurts, hearsay and retrospective.
_PAIN_NOT_LIVE = re.compile(
    r"팠|플|픔|프면|퍼면|파하|파했|프지(?:는|도|가)?(?:않|마|말)|퍼지마"
    r"|픈(?:데|곳|거|게|건|것)(?:는|가|도|이|은)?(?:하나도|하나|전혀|별로|아무|딱히)?(?:없|아니)"
    r"|[프파](?:다고|다구)?(?:하더|그러더|하던|그러던|했대|한대|그랬대|했다더|했다던|하대|더라|던데|대)"
)
_PAIN_CONNECTIVE = re.compile(r"[파퍼]서")
_CLAUSE = 15  # syllables of a following clause inspected for past tense
_HEARTACHE = re.compile(r"(?:마음|맘)(?:이|은|도)?(?:너무|좀|많이|정말|진짜|참|아주|넘)*$")

_BREATH = re.compile(
    r"숨(?:을|이|도|좀|을좀|이잘|을잘|잘)?(?:못|안)쉬|숨(?:을|이)?(?:쉴수|쉬기)(?:가|도|조차)?"
    r"(?:없|힘들|힘드|어렵)|숨(?:이)?막|호흡곤란|호흡이(?:안|곤란|힘)"
)

_FALL = re.compile(
    r"쓰러(?:졌|져|지|질|짐)|넘어(?:졌|져|지|질|짐)|자빠(?:졌|져|짐)|미끄러(?:졌|져)|낙상"
    r"|못일어|일어나(?:지|질|지를)?못|일어날수(?:가|도)?없|일어설수(?:가|도)?없"
    r"|못움직|움직일수(?:가|도)?없|움직이(?:지|질|지를)?못|꼼짝(?:도|을)?못|꼼짝할수(?:가)?없"
)
# Near misses ("넘어질 뻔"), warnings ("넘어지지 마") and conditionals, read after the hit.
_FALL_NOT_LIVE = re.compile(r"뻔|지(?:마|말|않)|않|면|까")

_NOT_OKAY = re.compile(r"안괜찮|괜찮지(?:가|도|는)?않")

_FIRE = re.compile(r"(?<!이)불(?:이)?났|(?<!이)불이야(?!기)|불(?:이)?붙었")


def _has_emergency(ctx: _Context) -> bool:
    return (
        _calls_for_help(ctx)
        or _calls_services(ctx)
        or _reports_pain(ctx)
        or _simple_family(ctx, _BREATH)
        or _fell(ctx)
        or _simple_family(ctx, _NOT_OKAY)
        or _simple_family(ctx, _FIRE)
    )


def _calls_for_help(ctx: _Context) -> bool:
    text = ctx.text
    for m in _SAVE.finditer(text):
        if _SAVE_NOT_CALL.match(text, m.end()) or _is_reported_or_denied(text, m.end()):
            continue
        if not ctx.is_title(m.start(), m.end()):
            return True
    for m in _HELP.finditer(text):
        if _HELP_NOT_CALL.match(text, m.end()) or _is_reported_or_denied(text, m.end()):
            continue
        if not _is_task_help(text, m.start()) and not ctx.is_title(m.start(), m.end()):
            return True
    for m in _HELP_NEEDED.finditer(text):
        if _HELP_NOT_NEEDED.match(text, m.end()) or _is_task_help(text, m.start()):
            continue
        if not ctx.is_title(m.start(), m.end()):
            return True
    return False


def _is_reported_or_denied(text: str, end: int) -> bool:
    return _REPORTED_CALL.match(text, end) is not None or _DENIED_CALL.match(text, end) is not None


def _is_task_help(text: str, start: int) -> bool:
    before = text[max(0, start - 12) : start]
    if _BODY_VERB.search(before):
        # Help getting up or moving is help for the body, however it is phrased.
        return False
    if _TASK_NOUN.search(before):
        return True
    m = _TASK_NOMINAL.search(before)
    if m and _final(m.group(1)) in {_FINAL_N, _FINAL_L}:
        # …는 거 / …ㄴ 것 / …ㄹ 걸: an adnominal ending, so a verb was nominalised.
        return True
    m = _TASK_GI.search(before)
    return m is not None and m.group(1) not in _NOT_GI_NOMINAL


def _calls_services(ctx: _Context) -> bool:
    for m in _SERVICES.finditer(ctx.text):
        if _SERVICES_NOT_CALL.match(ctx.text, m.end()):
            continue
        if not ctx.is_title(m.start(), m.end()):
            return True
    return False


def _reports_pain(ctx: _Context) -> bool:
    text = ctx.text
    for m in _PAIN.finditer(text):
        start = m.start()
        if _PAIN_LOOKALIKE.match(text, start) or _PAIN_NOT_LIVE.match(text, start + 1):
            continue
        if start > 0 and text[start - 1] == "안":
            continue
        if _HEARTACHE.search(text[max(0, start - 12) : start]):
            continue
        connective = _PAIN_CONNECTIVE.match(text, start + 1)
        if connective and _has_past_tense(text[connective.end() : connective.end() + _CLAUSE]):
            # "어제 아파서 병원 다녀왔어": the main clause is past, so this is a story.
            continue
        if not ctx.is_title(start, m.end()):
            return True
    return False


def _fell(ctx: _Context) -> bool:
    for m in _FALL.finditer(ctx.text):
        if _FALL_NOT_LIVE.match(ctx.text, m.end()):
            continue
        if not ctx.is_title(m.start(), m.end()):
            return True
    return False


def _simple_family(ctx: _Context, pattern: re.Pattern[str]) -> bool:
    return any(not ctx.is_title(m.start(), m.end()) for m in pattern.finditer(ctx.text))


# --- Cancel --------------------------------------------------------------------------------

_OKAY = re.compile(r"(?<!안)괜찮")
_OKAY_NOT_CANCEL = re.compile(
    r"을|겠|았|니|냐|나|으세|으신|으십|은지|지(?:가|도|는)?않|긴"
    r"|다고(?:하|그러)?(?:더|던)|대(?:요)?$"
)
_CANCEL_WORD = re.compile(r"취소")
_CANCEL_WORD_NEGATED = re.compile(
    r"(?:는|은|를|을)?(?:하지|시키지)?(?:마|말|않)|(?:는|은)?안|못|하면안"
)
_CANCEL_OTHER = re.compile(
    r"잘못(?:말|얘기|이야기|불렀|부른|눌|들었|알아들)|실수(?:로|야|였|예요|에요|한거)"
    r"|장난(?:이야|이었|으로|친|쳤|이에요)|농담(?:이야|이었|한)|멀쩡"
    r"|아무(?:일|렇지)(?:도)?(?:없|않)|별일(?:은|이)?없"
    r"|안(?:와|오셔|불러|부르셔|도와줘|도와주셔|보내)도(?:돼|되|괜찮)"
    r"|(?:신고|연락|전화|출동)(?:는|은)?안(?:해|하셔)도(?:돼|되|괜찮)"
    r"|(?:오지|부르지|신고하지|출동하지|연락하지|보내지)(?:마|말)"
    r"|(?:도움|구급차|119|신고|출동)(?:은|는|이|가|도)?필요(?:없|하지않|치않)"
    r"|(?:응급|위급)(?:상황)?(?:은|이|는)?(?:아니|아냐)"
)


def _has_cancel(ctx: _Context) -> bool:
    text = ctx.text
    for m in _OKAY.finditer(text):
        if not _OKAY_NOT_CANCEL.match(text, m.end()) and not ctx.is_title(m.start(), m.end()):
            return True
    for m in _CANCEL_WORD.finditer(text):
        if not _CANCEL_WORD_NEGATED.match(text, m.end()) and not ctx.is_title(m.start(), m.end()):
            return True
    return _simple_family(ctx, _CANCEL_OTHER)
