"""Fictional demo data shaped like Kosovo's media landscape.

Pure data plus one pure, seedable generator. Nothing here touches the database or imports
from the rest of the project: seed scripts, tests and benchmarks decide what to store.

Every outlet and every person is fictional. Outlets are shaped like the real landscape
(public broadcaster, private national TVs, dailies, many online portals, Serbian-language
media in the north and the enclaves, local radio/TV, foreign bureaus and wire agencies), but
their names are invented and their domains use the reserved ``.example`` top-level domain.
People are built from common Albanian and Serbian given and family names.

Contents:

- ``OUTLETS``: outlet dicts (name, medium, languages, region, website, desk_email, reach).
- ``BEATS``: the default shared beat taxonomy as ``(slug, English name)`` pairs.
- Name pools: ``ALBANIAN_GIVEN_M/F``, ``ALBANIAN_FAMILY``, ``SERBIAN_GIVEN_M/F``,
  ``SERBIAN_FAMILY`` (Serbian in Latin script).
- ``to_cyrillic`` (Serbian Latin to Cyrillic) and ``ascii_fold`` (for e-mail local parts).
- ``generate_journalists(rng, n, outlet_count)``: deterministic for a given seed.
- ``INTERACTION_SUMMARIES``: short English summaries per interaction kind.
"""

import random
import unicodedata
from typing import Any

Outlet = dict[str, Any]
Journalist = dict[str, Any]

MEDIA: tuple[str, ...] = ("tv", "radio", "print", "online", "agency")
LANGUAGES: tuple[str, ...] = ("sq", "sr-Latn", "sr-Cyrl", "en")
REGIONS: tuple[str, ...] = (
    "Prishtina",
    "Prizren",
    "Peja",
    "Gjakova",
    "Mitrovica",
    "Gjilan",
    "Ferizaj",
    "Gračanica",
    "Regional",
    "International",
)


def _outlet(
    name: str, medium: str, languages: list[str], region: str, domain: str, reach: int
) -> Outlet:
    return {
        "name": name,
        "medium": medium,
        "languages": languages,
        "region": region,
        "website": f"https://{domain}",
        "desk_email": f"newsdesk@{domain}",
        "reach": reach,
    }


# ---------------------------------------------------------------------------------------------
# Outlets
# ---------------------------------------------------------------------------------------------

OUTLETS: list[Outlet] = [
    # Public broadcaster: Albanian and Serbian TV channels, public radio.
    _outlet("RTP Dardania 1", "tv", ["sq"], "Prishtina", "rtpd.example", 1_100_000),
    _outlet("RTP Dardania 2", "tv", ["sr-Cyrl", "sr-Latn"], "Prishtina", "rtpd2.example", 95_000),
    _outlet(
        "Radio Dardania", "radio", ["sq", "sr-Latn"], "Prishtina", "radiodardania.example", 260_000
    ),
    # Private national TV, some with 24-hour news channels.
    _outlet("TV Horizont", "tv", ["sq"], "Prishtina", "tvhorizont.example", 950_000),
    _outlet("Horizont 24", "tv", ["sq"], "Prishtina", "horizont24.example", 620_000),
    _outlet("Kanal Agimi", "tv", ["sq"], "Prishtina", "kanalagimi.example", 800_000),
    _outlet("Agimi Lajme 24", "tv", ["sq"], "Prishtina", "agimilajme24.example", 540_000),
    _outlet("TV Arbëria", "tv", ["sq"], "Prishtina", "tvarberia.example", 480_000),
    _outlet("TV Rrafshi", "tv", ["sq"], "Peja", "tvrrafshi.example", 420_000),
    # Daily newspapers: small print runs, strong websites.
    _outlet("Lajmëtari Ditor", "print", ["sq"], "Prishtina", "lajmetari.example", 14_000),
    _outlet("Gazeta Mëngjesi", "print", ["sq"], "Prishtina", "mengjesi.example", 9_000),
    _outlet("E Përditshmja Kronika", "print", ["sq"], "Prishtina", "kronika-ks.example", 7_000),
    # Online portals: the most-read medium.
    _outlet("Portali Çelësi", "online", ["sq"], "Prishtina", "celesi.example", 1_250_000),
    _outlet("Sinjali", "online", ["sq"], "Prishtina", "sinjali.example", 870_000),
    _outlet("Lajmi i Fundit", "online", ["sq", "en"], "Prishtina", "lajmiifundit.example", 640_000),
    _outlet("Zëri i Qytetarit", "online", ["sq"], "Prishtina", "zeriqytetarit.example", 310_000),
    _outlet("Pasqyra Lajme", "online", ["sq"], "Prizren", "pasqyra.example", 230_000),
    # Investigative outlets, run as NGOs.
    _outlet("Hetuesi", "online", ["sq", "en"], "Prishtina", "hetuesi.example", 260_000),
    _outlet(
        "Gjurmë – Rrjeti Hulumtues",
        "online",
        ["sq", "sr-Latn", "en"],
        "Prishtina",
        "gjurme.example",
        180_000,
    ),
    _outlet(
        "Vërtetësia Fact-Check",
        "online",
        ["sq", "sr-Latn"],
        "Prishtina",
        "vertetesia.example",
        95_000,
    ),
    # English-language portals read by the international community.
    _outlet("The Kosovo Ledger", "online", ["en"], "Prishtina", "kosovoledger.example", 65_000),
    _outlet("Dardania Dispatch", "online", ["en"], "Prishtina", "dardaniadispatch.example", 40_000),
    # Serbian-language media in the north and the enclaves.
    _outlet(
        "Север инфо", "online", ["sr-Cyrl", "sr-Latn"], "Mitrovica", "severinfo.example", 120_000
    ),
    _outlet("ТВ Мост", "tv", ["sr-Cyrl"], "Mitrovica", "tvmost.example", 85_000),
    _outlet(
        "Radio Severni talas",
        "radio",
        ["sr-Latn", "sr-Cyrl"],
        "Mitrovica",
        "severnitalas.example",
        40_000,
    ),
    _outlet("Ibarski vesnik", "online", ["sr-Latn"], "Mitrovica", "ibarskivesnik.example", 70_000),
    _outlet(
        "Грачанички весник",
        "online",
        ["sr-Cyrl", "sr-Latn"],
        "Gračanica",
        "gracanickivesnik.example",
        35_000,
    ),
    _outlet(
        "Radio Labski glas",
        "radio",
        ["sr-Latn", "sr-Cyrl"],
        "Gračanica",
        "labskiglas.example",
        22_000,
    ),
    _outlet("Штрпце данас", "online", ["sr-Cyrl"], "Ferizaj", "strpcedanas.example", 15_000),
    _outlet("Pomoravlje info", "online", ["sr-Latn"], "Gjilan", "pomoravljeinfo.example", 18_000),
    # Local radio and TV in the larger towns.
    _outlet("Radio Kryeqyteti", "radio", ["sq", "en"], "Prishtina", "kryeqyteti.example", 110_000),
    _outlet("TV Kalaja", "tv", ["sq"], "Prizren", "tvkalaja.example", 150_000),
    _outlet("Radio Shadërvani", "radio", ["sq"], "Prizren", "shadervani.example", 40_000),
    _outlet("Radio Bjeshkët", "radio", ["sq"], "Peja", "radiobjeshket.example", 50_000),
    _outlet("TV Çarshia", "tv", ["sq"], "Gjakova", "tvcarshia.example", 80_000),
    _outlet("Radio Vala e Anamoravës", "radio", ["sq"], "Gjilan", "valaanamorava.example", 45_000),
    _outlet("TV Nerodimja", "tv", ["sq"], "Ferizaj", "tvnerodimja.example", 70_000),
    _outlet("Radio Ura", "radio", ["sq"], "Mitrovica", "radioura.example", 35_000),
    # Agencies, regional networks and international bureaus.
    _outlet(
        "Agjencia e Lajmeve Kumtari",
        "agency",
        ["sq", "en"],
        "Prishtina",
        "kumtari.example",
        300_000,
    ),
    _outlet(
        "Balkan Wire Service",
        "agency",
        ["en", "sq", "sr-Latn"],
        "International",
        "balkanwire.example",
        2_500_000,
    ),
    _outlet(
        "Adriatic Regional Network",
        "tv",
        ["sr-Latn", "sq", "en"],
        "Regional",
        "adriaticnetwork.example",
        1_400_000,
    ),
    _outlet(
        "Balkan Civic Review",
        "online",
        ["en", "sq", "sr-Latn"],
        "Regional",
        "balkancivicreview.example",
        70_000,
    ),
    _outlet(
        "Euronova Radio – Albanian Service",
        "radio",
        ["sq", "en"],
        "International",
        "euronova-sq.example",
        400_000,
    ),
    _outlet(
        "Radio Danubia – Serbian Service",
        "radio",
        ["sr-Latn", "sr-Cyrl"],
        "International",
        "danubia-sr.example",
        300_000,
    ),
]

_INVESTIGATIVE_OUTLETS: frozenset[str] = frozenset(
    {"Hetuesi", "Gjurmë – Rrjeti Hulumtues", "Vërtetësia Fact-Check"}
)

# ---------------------------------------------------------------------------------------------
# Beats
# ---------------------------------------------------------------------------------------------

BEATS: list[tuple[str, str]] = [
    ("rule-of-law", "Rule of law and justice"),
    ("corruption", "Corruption and public procurement"),
    ("eu-integration", "EU integration"),
    ("kosovo-serbia-dialogue", "Kosovo–Serbia dialogue"),
    ("minority-rights", "Minority rights"),
    ("human-rights", "Human rights"),
    ("gender-equality", "Gender equality"),
    ("gender-based-violence", "Gender-based violence"),
    ("environment", "Environment"),
    ("air-pollution", "Air pollution"),
    ("energy", "Energy"),
    ("education", "Education"),
    ("health", "Health"),
    ("social-welfare", "Social welfare"),
    ("local-government", "Local government"),
    ("elections", "Elections and parliament"),
    ("economy", "Economy"),
    ("labour", "Labour and employment"),
    ("diaspora", "Diaspora"),
    ("culture", "Culture"),
    ("youth", "Youth"),
    ("media-freedom", "Media freedom"),
    ("disability-rights", "Disability rights"),
    ("lgbti-rights", "LGBTI rights"),
    ("transitional-justice", "War crimes and transitional justice"),
]

# ---------------------------------------------------------------------------------------------
# Name pools (common real-world names; the combinations are fictional people)
# ---------------------------------------------------------------------------------------------

# fmt: off
ALBANIAN_GIVEN_M: list[str] = [
    "Arbër", "Besnik", "Lirim", "Driton", "Agron", "Ilir", "Fatmir", "Valon", "Blerim", "Shpend",
    "Gëzim", "Kushtrim", "Artan", "Labinot", "Jetmir", "Arben", "Bekim", "Faton", "Ardian",
    "Egzon", "Leutrim", "Dardan", "Alban", "Visar", "Florent", "Granit", "Mentor", "Ylber",
    "Përparim", "Bujar", "Rinor", "Ermal", "Gent", "Albin", "Liridon", "Drilon", "Endrit",
    "Qëndrim", "Besart", "Armend", "Flamur", "Shkëlzen", "Lulzim", "Agim", "Blendi",
]

ALBANIAN_GIVEN_F: list[str] = [
    "Blerta", "Dritë", "Fjolla", "Vjosë", "Arta", "Teuta", "Vlora", "Albana", "Drita", "Shqipe",
    "Merita", "Jehona", "Donika", "Ardita", "Arbnora", "Besa", "Valbona", "Flaka", "Rina", "Era",
    "Kaltrina", "Mimoza", "Edona", "Hana", "Elira", "Nora", "Leonora", "Gresa", "Lindita", "Zana",
    "Diellza", "Ariana", "Erëza", "Blerina", "Vesa", "Mirjeta", "Qëndresa", "Fatbardha", "Njomza",
    "Lumturije", "Ganimete", "Dafina", "Kaltrinë", "Besarta",
]

ALBANIAN_FAMILY: list[str] = [
    "Krasniqi", "Berisha", "Gashi", "Hoxha", "Morina", "Shala", "Bytyçi", "Rexhepi", "Dërmaku",
    "Kelmendi", "Hasani", "Ahmeti", "Rama", "Mustafa", "Salihu", "Bajrami", "Hyseni", "Zeqiri",
    "Osmani", "Sopi", "Haxhiu", "Halimi", "Çeku", "Dreshaj", "Kuçi", "Gërxhaliu", "Musliu",
    "Avdiu", "Sylejmani", "Bekteshi", "Zymberi", "Haliti", "Ibrahimi", "Hajdari", "Qerimi",
    "Lleshi", "Sejdiu", "Kastrati", "Mehmeti", "Gjinovci", "Nimani", "Bislimi", "Dobruna",
    "Ramadani", "Gjonbalaj", "Xhemajli", "Ukaj", "Maliqi", "Çitaku", "Beqiri", "Shabani", "Ademi",
    "Bejta", "Fetahu", "Hoti", "Limani", "Kryeziu", "Syla", "Tahiri", "Uka", "Zeka", "Kurteshi",
    "Përteshi", "Lumi", "Vitija", "Begolli",
]

SERBIAN_GIVEN_M: list[str] = [
    "Đorđe", "Nikola", "Marko", "Stefan", "Miloš", "Nemanja", "Dušan", "Aleksandar", "Vladimir",
    "Dragan", "Zoran", "Goran", "Milan", "Saša", "Ivan", "Srđan", "Bojan", "Dejan", "Nenad",
    "Miroslav", "Vuk", "Lazar", "Uroš", "Žarko", "Ljubomir", "Ljubiša", "Radoš", "Predrag",
    "Dragiša", "Branislav", "Veljko", "Živorad", "Đorđije", "Vukašin", "Njegoš",
]

SERBIAN_GIVEN_F: list[str] = [
    "Jelena", "Milica", "Ana", "Marija", "Ivana", "Jovana", "Tijana", "Snežana", "Dragana",
    "Ljiljana", "Biljana", "Svetlana", "Gordana", "Mirjana", "Katarina", "Nevena", "Tamara",
    "Sanja", "Danijela", "Branka", "Vesna", "Nataša", "Jasmina", "Dušica", "Milena", "Aleksandra",
    "Teodora", "Sofija", "Kristina", "Zorica", "Maja", "Đurđa", "Ljubica",
]

SERBIAN_FAMILY: list[str] = [
    "Đorđević", "Jovanović", "Ćosić", "Petrović", "Simić", "Nikolić", "Marković", "Stojanović",
    "Ilić", "Pavlović", "Stanković", "Todorović", "Popović", "Živković", "Radić", "Kostić",
    "Mitić", "Lazić", "Vučković", "Savić", "Tomić", "Janković", "Ristić", "Đurić", "Mladenović",
    "Milić", "Krstić", "Arsić", "Spasić", "Filipović", "Božović", "Vasić", "Nešić", "Ćirić",
    "Stevanović", "Trajković", "Dimitrijević", "Jakšić", "Kovačević", "Gajić", "Veljković",
    "Ljubisavljević", "Džunić", "Šaković", "Njegovanović", "Čolić",
]
# fmt: on

# ---------------------------------------------------------------------------------------------
# Script helpers
# ---------------------------------------------------------------------------------------------

# fmt: off
_CYRILLIC_DIGRAPHS: dict[str, str] = {
    "lj": "љ", "Lj": "Љ", "LJ": "Љ",
    "nj": "њ", "Nj": "Њ", "NJ": "Њ",
    "dž": "џ", "Dž": "Џ", "DŽ": "Џ",
}
# fmt: on

_LATIN_ALPHABET = "abcčćdđefghijklmnoprsštuvzž"
_CYRILLIC_ALPHABET = "абцчћдђефгхијклмнопрсштувзж"
_CYRILLIC_LETTERS: dict[str, str] = {
    **dict(zip(_LATIN_ALPHABET, _CYRILLIC_ALPHABET, strict=True)),
    **dict(zip(_LATIN_ALPHABET.upper(), _CYRILLIC_ALPHABET.upper(), strict=True)),
}

_LATIN_FROM_CYRILLIC: dict[str, str] = {c: lat for lat, c in _CYRILLIC_LETTERS.items()}
_LATIN_FROM_CYRILLIC.update({"љ": "lj", "Љ": "Lj", "њ": "nj", "Њ": "Nj", "џ": "dž", "Џ": "Dž"})


def to_cyrillic(latin: str) -> str:
    """Transliterate Serbian Latin script to Serbian Cyrillic.

    The digraphs lj, nj and dž (in any of their capitalisations: ``lj``, ``Lj``, ``LJ``) become
    single letters (љ, њ, џ). Characters that are not Serbian Latin letters (spaces, hyphens,
    digits, Albanian ë/ç) pass through unchanged. Rare words where the pair is not a digraph
    (e.g. "nadživeti") are not special-cased; personal names do not need that.
    """
    text = unicodedata.normalize("NFC", latin)
    out: list[str] = []
    i = 0
    while i < len(text):
        pair = text[i : i + 2]
        if pair in _CYRILLIC_DIGRAPHS:
            out.append(_CYRILLIC_DIGRAPHS[pair])
            i += 2
            continue
        out.append(_CYRILLIC_LETTERS.get(text[i], text[i]))
        i += 1
    return "".join(out)


def ascii_fold(text: str) -> str:
    """Fold Albanian/Serbian text (Latin or Cyrillic) to plain ASCII: đ→dj, ë→e, č→c, ж→z."""
    latin = "".join(_LATIN_FROM_CYRILLIC.get(ch, ch) for ch in text)
    latin = latin.replace("đ", "dj").replace("Đ", "Dj")
    decomposed = unicodedata.normalize("NFKD", latin)
    return decomposed.encode("ascii", "ignore").decode("ascii")


def _slug_part(text: str) -> str:
    return "".join(ch for ch in ascii_fold(text).lower() if ch.isalnum())


def _domain(outlet: Outlet) -> str:
    return str(outlet["desk_email"]).split("@", 1)[1]


# ---------------------------------------------------------------------------------------------
# Geography
# ---------------------------------------------------------------------------------------------

# Towns per region; the first town is the regional centre. Serbian-majority places are
# listed in _SERBIAN_TOWNS (first one per region is the local centre for Serbian media).
# fmt: off
_REGION_TOWNS: dict[str, tuple[str, ...]] = {
    "Prishtina": ("Prishtina", "Podujeva", "Fushë Kosova", "Obiliq", "Lipjan", "Drenas"),
    "Prizren": ("Prizren", "Suhareka", "Dragash", "Mamusha", "Malisheva"),
    "Peja": ("Peja", "Istog", "Klina"),
    "Gjakova": ("Gjakova", "Rahovec", "Deçan", "Junik"),
    "Mitrovica": (
        "Mitrovica", "North Mitrovica", "Zvečan", "Leposavić", "Zubin Potok", "Vushtrri",
        "Skenderaj",
    ),
    "Gjilan": ("Gjilan", "Kamenica", "Viti", "Ranilug", "Novo Brdo"),
    "Ferizaj": ("Ferizaj", "Štrpce", "Kaçanik", "Hani i Elezit"),
    "Gračanica": ("Gračanica", "Laplje Selo"),
}
_SERBIAN_TOWNS: frozenset[str] = frozenset(
    {
        "North Mitrovica", "Zvečan", "Leposavić", "Zubin Potok", "Gračanica", "Laplje Selo",
        "Štrpce", "Ranilug", "Novo Brdo",
    }
)
# fmt: on

_TOWN_REGION: dict[str, str] = {
    town: region for region, towns in _REGION_TOWNS.items() for town in towns
}
_KOSOVO_REGIONS: tuple[str, ...] = tuple(_REGION_TOWNS)
_ABROAD: dict[bool, tuple[tuple[str, str], ...]] = {
    False: (
        ("Tirana", "Regional"),
        ("Skopje", "Regional"),
        ("Brussels", "International"),
        ("Vienna", "International"),
    ),
    True: (("Belgrade", "Regional"), ("Novi Sad", "Regional"), ("Brussels", "International")),
}

# fmt: off
_LANDLINE_CODES: dict[str, str] = {
    "Prishtina": "38", "Prizren": "29", "Peja": "39", "Gjakova": "390", "Mitrovica": "28",
    "Gjilan": "280", "Ferizaj": "290", "Gračanica": "38",
}
# fmt: on

_MOBILE_PREFIXES: tuple[str, ...] = ("44", "49", "45", "43", "48", "46")
_MOBILE_WEIGHTS: tuple[int, ...] = (5, 4, 3, 2, 1, 1)

# ---------------------------------------------------------------------------------------------
# Journalist attributes
# ---------------------------------------------------------------------------------------------

# fmt: off
TITLES: tuple[str, ...] = (
    "Reporter", "Journalist", "Editor", "News editor", "Desk editor", "Correspondent", "Producer",
    "Presenter", "Freelance", "Columnist", "Editor-in-chief", "Photojournalist",
    "Investigative reporter", "Data journalist", "Bureau chief",
)
_BASE_TITLE_WEIGHTS: dict[str, int] = {
    "Reporter": 30, "Journalist": 14, "Editor": 7, "News editor": 6, "Desk editor": 5,
    "Correspondent": 6, "Producer": 3, "Freelance": 5, "Columnist": 2, "Editor-in-chief": 1,
    "Photojournalist": 3,
}

TAG_POOL: tuple[str, ...] = (
    "tv-guest", "investigative", "key-contact", "regional", "responsive", "prefers-phone",
    "bilingual", "former-cso", "data-friendly", "slow-to-reply",
)
# fmt: on

_PERSONAL_DOMAINS: tuple[str, ...] = ("posta.example", "webmail.example", "inbox-ks.example")

_NOTES_COMMON: tuple[str, ...] = (
    "Prefers Viber or WhatsApp to email.",
    "Best reached before the 11:00 editorial meeting.",
    "Covers the Assembly; usually in parliament on Thursdays.",
    "Asked for data in spreadsheets, not PDFs.",
    "Former CSO communications officer; knows the sector well.",
    "Does not travel to press conferences outside Prishtina.",
    "Interested in municipal budget data.",
    "Moderates a weekly debate show; good for studio guests.",
    "Likes short fact sheets and infographics.",
    "Asked not to be called after 18:00.",
    "Reliable for follow-up stories after report launches.",
    "Prefers embargoed copies a day in advance.",
    "Changed outlets recently; confirm current affiliation.",
    "Wants named local sources, not just organisation quotes.",
    "Met at the EU Office media training in spring.",
)
_NOTES_SERBIAN: tuple[str, ...] = (
    "Send press releases in Serbian; machine translations get ignored.",
    "Cyrillic preferred for anything published.",
    "Covers the north; often at municipal sessions in Zvečan and Leposavić.",
    "Good contact for joint Albanian–Serbian CSO initiatives.",
)
_NOTES_INTERNATIONAL: tuple[str, ...] = (
    "Files in English; needs background briefings rather than press releases.",
    "Travels to Brussels for dialogue rounds.",
    "Interested in donor-funded programmes and their results.",
)


def _weighted_sample(
    rng: random.Random, items: list[str], weights: list[float], k: int
) -> list[str]:
    """Sample ``k`` distinct items with the given relative weights (order of draw kept)."""
    pool = list(items)
    w = list(weights)
    picked: list[str] = []
    for _ in range(min(k, len(pool))):
        idx = rng.choices(range(len(pool)), weights=w)[0]
        picked.append(pool.pop(idx))
        w.pop(idx)
    return picked


def _staff_weight(outlet: Outlet) -> float:
    base = {"tv": 7.0, "agency": 5.0, "print": 4.0, "online": 3.5, "radio": 2.0}[outlet["medium"]]
    if outlet["region"] in ("Regional", "International"):
        base = 2.0
    return base + min(int(outlet["reach"]) / 250_000, 4.0)


def _serbian_share(outlet: Outlet) -> float:
    langs = outlet["languages"]
    has_sq = "sq" in langs
    has_sr = "sr-Latn" in langs or "sr-Cyrl" in langs
    if has_sr and not has_sq:
        return 0.92
    if has_sq and not has_sr:
        return 0.03
    if has_sq and has_sr:
        return 0.35 if langs[0] == "sq" else 0.6
    return 0.15  # English-only


def _pick_name(
    rng: random.Random, serbian: bool, gender: str, used: set[tuple[str, str]]
) -> tuple[str, str]:
    if serbian:
        given_pool = SERBIAN_GIVEN_F if gender == "f" else SERBIAN_GIVEN_M
        family_pool = SERBIAN_FAMILY
    else:
        given_pool = ALBANIAN_GIVEN_F if gender == "f" else ALBANIAN_GIVEN_M
        family_pool = ALBANIAN_FAMILY
    name = (rng.choice(given_pool), rng.choice(family_pool))
    for _ in range(20):  # avoid exact duplicates while the pools allow it
        if name not in used:
            break
        name = (rng.choice(given_pool), rng.choice(family_pool))
    used.add(name)
    return name


def _pick_title(rng: random.Random, outlet: Outlet) -> str:
    weights = dict(_BASE_TITLE_WEIGHTS)
    if outlet["medium"] in ("tv", "radio"):
        weights["Presenter"] = 5
        weights["Producer"] += 4
        weights["Photojournalist"] = 0
    if outlet["name"] in _INVESTIGATIVE_OUTLETS:
        weights["Investigative reporter"] = 25
        weights["Data journalist"] = 6
    if outlet["medium"] == "agency":
        weights["Correspondent"] += 12
    if outlet["region"] in ("Regional", "International"):
        weights["Correspondent"] += 30
        weights["Bureau chief"] = 3
        weights["Editor-in-chief"] = 0
    titles = list(weights)
    return rng.choices(titles, weights=[weights[t] for t in titles])[0]


def _pick_languages(
    rng: random.Random, outlet: Outlet, serbian: bool, cyrillic: bool
) -> tuple[str, list[str]]:
    main = outlet["languages"][0]
    if serbian:
        if cyrillic:
            preferred = "sr-Cyrl"
        elif main == "en" and rng.random() < 0.6:
            preferred = "en"
        elif main == "sr-Cyrl" and rng.random() < 0.3:
            preferred = "sr-Cyrl"
        else:
            preferred = "sr-Latn"
        others = ["sr-Latn", "sr-Cyrl"]
        if rng.random() < 0.5:
            others.append("en")
        if rng.random() < 0.12:
            others.append("sq")
    else:
        preferred = "en" if main == "en" and rng.random() < 0.7 else "sq"
        others = ["sq"]
        if rng.random() < 0.55:
            others.append("en")
        if rng.random() < 0.07:
            others.append("sr-Latn")
    languages = [preferred] + [lang for lang in others if lang != preferred]
    return preferred, languages


def _pick_city(rng: random.Random, outlet: Outlet, serbian: bool, title: str) -> tuple[str, str]:
    region = outlet["region"]
    if region in ("Regional", "International"):
        if rng.random() < 0.35:
            return rng.choice(_ABROAD[serbian])
        region = "Prishtina"
        roams = serbian  # Serbian staff of foreign bureaus live in the north or an enclave
    else:
        roams = title == "Correspondent" or rng.random() < 0.12
        if roams:
            region = rng.choice(_KOSOVO_REGIONS)
    towns = [t for t in _REGION_TOWNS[region] if (t in _SERBIAN_TOWNS) == serbian]
    if not towns:
        towns = [t for t in _TOWN_REGION if (t in _SERBIAN_TOWNS) == serbian]
        town = rng.choice(towns)
    elif not roams and rng.random() < 0.7:
        town = towns[0]
    else:
        town = rng.choice(towns)
    return town, _TOWN_REGION[town]


def _unique_email(rng: random.Random, given: str, family: str, domain: str, used: set[str]) -> str:
    g, f = _slug_part(given), _slug_part(family)
    patterns = [f"{g}.{f}", f"{g[0]}.{f}", f"{g}{f}", f"{f}.{g}", f"{g}.{f[0]}"]
    rng.shuffle(patterns)
    for local in patterns:
        address = f"{local}@{domain}"
        if address not in used:
            used.add(address)
            return address
    counter = 2
    while f"{g}.{f}{counter}@{domain}" in used:
        counter += 1
    address = f"{g}.{f}{counter}@{domain}"
    used.add(address)
    return address


def _make_emails(
    rng: random.Random,
    given: str,
    family: str,
    outlet: Outlet,
    extra_outlet: Outlet | None,
    title: str,
    used: set[str],
) -> list[str]:
    personal = rng.choice(_PERSONAL_DOMAINS)
    if title == "Freelance" or rng.random() < 0.08:
        first = _unique_email(rng, given, family, personal, used)
        second_domain = _domain(extra_outlet) if extra_outlet is not None else None
    else:
        first = _unique_email(rng, given, family, _domain(outlet), used)
        second_domain = personal if rng.random() < 0.35 else None
    emails = [first]
    if second_domain is not None:
        emails.append(_unique_email(rng, given, family, second_domain, used))
    return emails


def _unique_phone(rng: random.Random, used: set[str], kind: str, region: str) -> str:
    while True:
        if kind == "mobile":
            prefix = rng.choices(_MOBILE_PREFIXES, weights=_MOBILE_WEIGHTS)[0]
            number = f"+383 {prefix} {rng.randint(100, 999)} {rng.randint(100, 999)}"
        elif kind == "serbia":  # Serbian operators are widely used in the north
            number = f"+381 6{rng.choice('0345')} {rng.randint(100, 999)} {rng.randint(1000, 9999)}"
        else:
            code = _LANDLINE_CODES.get(region, "38")
            if len(code) == 2:
                number = f"+383 {code} {rng.randint(200, 999)} {rng.randint(100, 999)}"
            else:
                number = f"+383 {code} {rng.randint(20, 99)} {rng.randint(100, 999)}"
        if number not in used:
            used.add(number)
            return number


def _make_phones(
    rng: random.Random, region: str, city: str, serbian: bool, used: set[str]
) -> list[str]:
    phones = [_unique_phone(rng, used, "mobile", region)]
    roll = rng.random()
    if serbian and city in _SERBIAN_TOWNS and roll < 0.25:
        phones.append(_unique_phone(rng, used, "serbia", region))
    elif roll < 0.2:
        phones.append(_unique_phone(rng, used, "mobile", region))
    elif roll < 0.3 and region in _LANDLINE_CODES:
        phones.append(_unique_phone(rng, used, "landline", region))
    return phones


def _pick_beats(rng: random.Random, outlet: Outlet, serbian: bool) -> list[str]:
    slugs = [slug for slug, _ in BEATS]
    weights = {slug: 1.0 for slug in slugs}
    for slug in ("rule-of-law", "corruption", "local-government", "economy", "education"):
        weights[slug] += 1.5
    if serbian:
        for slug in ("kosovo-serbia-dialogue", "minority-rights", "local-government"):
            weights[slug] += 4
    if outlet["name"] in _INVESTIGATIVE_OUTLETS:
        for slug in ("corruption", "rule-of-law", "transitional-justice"):
            weights[slug] += 6
    if "en" in outlet["languages"][:1] or outlet["region"] in ("Regional", "International"):
        for slug in ("eu-integration", "kosovo-serbia-dialogue", "human-rights"):
            weights[slug] += 3
    if outlet["region"] not in ("Prishtina", "Regional", "International"):
        for slug in ("local-government", "environment", "diaspora"):
            weights[slug] += 2
    k = rng.choices((1, 2, 3), weights=(3, 4, 3))[0]
    return _weighted_sample(rng, slugs, [weights[s] for s in slugs], k)


def _pick_tags(rng: random.Random, outlet: Outlet, title: str) -> list[str]:
    k = rng.choices((0, 1, 2), weights=(45, 35, 20))[0]
    weights = {tag: 1.0 for tag in TAG_POOL}
    if outlet["name"] in _INVESTIGATIVE_OUTLETS or title == "Investigative reporter":
        weights["investigative"] += 12
    if outlet["medium"] == "tv" or title in ("Presenter", "Producer"):
        weights["tv-guest"] += 5
    if outlet["region"] not in ("Prishtina", "International"):
        weights["regional"] += 4
    tags = list(TAG_POOL)
    return _weighted_sample(rng, tags, [weights[t] for t in tags], k)


def _make_social(rng: random.Random, given: str, family: str) -> dict[str, str]:
    g, f = _slug_part(given), _slug_part(family)
    social: dict[str, str] = {}
    if rng.random() < 0.55:
        handle = rng.choice([f"{g}{f}", f"{g}_{f}", f"{g[0]}{f}", f"{g}{f}_ks", f"{f}{g[0]}"])
        social["x"] = "@" + handle[:15]
    if rng.random() < 0.12:
        social["instagram"] = f"@{g}.{f}"
    if rng.random() < 0.05:
        social["mastodon"] = f"@{g}@mastodon.example"
    return social


def _pick_note(rng: random.Random, outlet: Outlet, serbian: bool) -> str:
    if rng.random() < 0.45:
        return ""
    pool = list(_NOTES_COMMON)
    if serbian:
        pool.extend(_NOTES_SERBIAN * 2)
    if "en" in outlet["languages"][:1] or outlet["region"] in ("Regional", "International"):
        pool.extend(_NOTES_INTERNATIONAL * 2)
    return rng.choice(pool)


def _pick_extra_outlet(
    rng: random.Random, outlet_index: int, outlet_count: int, serbian: bool
) -> int | None:
    """A second outlet for a freelancer, in a language they work in."""

    def fits(i: int) -> bool:
        if serbian:
            return _serbian_share(OUTLETS[i]) >= 0.3
        return "sq" in OUTLETS[i]["languages"]

    candidates = [i for i in range(outlet_count) if i != outlet_index and fits(i)]
    if not candidates:
        candidates = [i for i in range(outlet_count) if i != outlet_index]
    return rng.choice(candidates) if candidates else None


def generate_journalists(rng: random.Random, n: int, outlet_count: int) -> list[Journalist]:
    """Generate ``n`` fictional journalists attached to the first ``outlet_count`` OUTLETS.

    Pure and deterministic: all randomness comes from ``rng``. E-mail addresses and phone
    numbers are unique across the returned list; exact duplicate names are avoided while the
    name pools allow. Serbian-named journalists work mostly at Serbian-language outlets and
    about one in four of them has the name written in Cyrillic (``preferred_language`` is then
    ``"sr-Cyrl"``). E-mail local parts and social handles are ASCII-folded from the Latin
    spelling (Đorđe Ćosić → djordje.cosic).
    """
    if n < 0:
        raise ValueError("n must not be negative")
    if not 1 <= outlet_count <= len(OUTLETS):
        raise ValueError(f"outlet_count must be between 1 and {len(OUTLETS)}")

    staff_weights = [_staff_weight(o) for o in OUTLETS[:outlet_count]]
    used_emails: set[str] = set()
    used_phones: set[str] = set()
    used_names: set[tuple[str, str]] = set()
    serbian_seen = 0
    cyrillic_count = 0
    journalists: list[Journalist] = []

    for _ in range(n):
        outlet_index = rng.choices(range(outlet_count), weights=staff_weights)[0]
        outlet = OUTLETS[outlet_index]
        serbian = rng.random() < _serbian_share(outlet)
        gender = "f" if rng.random() < 0.5 else "m"
        given, family = _pick_name(rng, serbian, gender, used_names)

        cyrillic = False
        if serbian:
            serbian_seen += 1
            # Error diffusion keeps the Cyrillic share within one person of 25 %.
            cyrillic = cyrillic_count + rng.random() < serbian_seen * 0.25
            if cyrillic:
                cyrillic_count += 1

        title = _pick_title(rng, outlet)
        extra_index: int | None = None
        if title == "Freelance" and rng.random() < 0.8:
            extra_index = _pick_extra_outlet(rng, outlet_index, outlet_count, serbian)
        extra_outlet = OUTLETS[extra_index] if extra_index is not None else None

        preferred, languages = _pick_languages(rng, outlet, serbian, cyrillic)
        city, region = _pick_city(rng, outlet, serbian, title)
        emails = _make_emails(rng, given, family, outlet, extra_outlet, title, used_emails)
        phones = _make_phones(rng, region, city, serbian, used_phones)
        beats = _pick_beats(rng, outlet, serbian)
        tags = _pick_tags(rng, outlet, title)
        social = _make_social(rng, given, family)
        note = _pick_note(rng, outlet, serbian)

        if cyrillic:
            given, family = to_cyrillic(given), to_cyrillic(family)

        journalists.append(
            {
                "given_name": given,
                "family_name": family,
                "gender": gender,
                "preferred_language": preferred,
                "languages": languages,
                "emails": emails,
                "phones": phones,
                "city": city,
                "region": region,
                "outlet_index": outlet_index,
                "title": title,
                "freelance_extra_outlet_index": extra_index,
                "beat_slugs": beats,
                "tags": tags,
                "social": social,
                "notes": note,
            }
        )
    return journalists


# ---------------------------------------------------------------------------------------------
# Interaction summaries
# ---------------------------------------------------------------------------------------------

INTERACTION_SUMMARIES: dict[str, list[str]] = {
    "call": [
        "Called about the air-quality report launch",
        "Phoned to confirm attendance at Thursday's press conference",
        "Quick call: wants a spokesperson for the evening news",
        "Called back about the municipal budget figures",
        "Asked by phone for a comment on the new draft law",
        "Called to pitch the survey on youth unemployment",
        "Follow-up call after the press release; may run it tomorrow",
        "Called to offer a Serbian-speaking interviewee",
        "Missed call returned; interested in the court-monitoring findings",
        "Short call to check the embargo time",
    ],
    "meeting": [
        "Coffee at the newsroom; interested in municipal budget data",
        "Met after the press conference; wants case studies from Prizren",
        "Background briefing on the Kosovo–Serbia dialogue paper",
        "Lunch with the desk editor; discussed a series on gender-based violence",
        "Met at the media training; exchanged contacts",
        "Studio visit to prepare the debate show",
        "Introduced the new communications officer to the editor",
        "Field visit to the landfill site with the reporter",
        "Joint coalition briefing for editors on the election monitoring",
    ],
    "note": [
        "Now at a different outlet; update the contact card",
        "Prefers receiving materials in Albanian and English",
        "Going on leave for two weeks; contact the desk instead",
        "Was unhappy the data came only as a PDF",
        "Good candidate for the donor visibility report",
        "Asked to be removed from general mailings; keep for targeted pitches",
        "Has covered our work three times this year",
        "Will be in Brussels during the next dialogue round",
    ],
    "email_out": [
        "Sent the press release on the air-pollution monitoring results",
        "Invitation to the joint press conference of the coalition",
        "Shared the embargoed report with the executive summary",
        "Sent the fact sheet on municipal procurement",
        "Pitched an interview with the director on minority language rights",
        "Sent photos and quotes from the community event",
        "Follow-up with the infographic they asked for",
        "Sent the Serbian translation of the statement",
    ],
    "email_in": [
        "Asked for the full dataset behind the report",
        "Requested a comment on the Assembly vote by 16:00",
        "Asked whether a beneficiary would speak on camera",
        "Sent questions for a written interview",
        "Requested the Albanian version of the statement",
        "Asked for contacts of the local partner organisations",
        "Confirmed they will attend the press conference",
        "Asked for background on the court case",
    ],
    "coverage": [
        "Article quoted our report on public procurement",
        "Evening news piece on the air-quality campaign",
        "Radio interview with the programme coordinator",
        "Op-ed by our director published",
        "Mentioned in a story on the municipal budget hearing",
        "TV debate appearance on gender equality",
        "Online story on the youth employment survey with our infographic",
        "Serbian-language report on the joint minority-rights statement",
        "Wire story picked up by several portals",
    ],
}
