"""Seeded generator of wiki_bio-style biographies: the offline stand-in for the real wiki_bio corpus.

Each record is ``{"id": "synthetic-<i>", "name", "text", "infobox"}`` where the text is lowercased and
space-tokenized like wiki_bio ("anna berg ( born 2 march 1995 ) is a swedish ice hockey player ...") and the
infobox uses real wiki_bio field names with wiki_bio-style values ("2 march 1995", "march 2 , 1995", "1995",
"c. 1890"). The mix is meant to exercise every labeling and filtering path:

- sportspeople (team and individual sports), politicians, both (athletes turned politicians) and neither
  (writers, musicians, scientists, actors, artists, business people);
- living and dead people; full, month+year, year-only, circa and missing dates in day-month-year or
  month-day-year style;
- nationality given by a ``nationality`` key or only by the country in ``birth_place``, always with the demonym
  in the text, or unknown (no nationality key, no country or demonym anywhere in the record);
- middle names, surname particles ("van der", "da"), possessives ("berg 's"), disambiguated article titles;
- about ``non_person_rate`` bands, with group-style infobox keys and no birth date, for the filters to drop.

Record ``i`` depends only on ``(seed, i)``: it draws from ``random.Random(f"synthetic:{seed}:{i}")`` and re-seeds
the (cached, per-locale) Faker instances from that generator before every use, so the output never depends on
Faker's or Python's global random state, and ``generate(n, seed)`` is a prefix of ``generate(n + k, seed)``.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from functools import lru_cache

from faker import Faker

from needlework.labels.vocabulary import MONTH_NAMES


@dataclass(frozen=True)
class Country:
    """A Faker locale with the country it stands for, its demonym, a few real cities and its legislature."""

    locale: str
    name: str
    demonym: str
    cities: tuple[str, ...]
    legislature: str


COUNTRIES: tuple[Country, ...] = (
    Country("en_US", "united states", "american", ("chicago", "boston", "denver", "seattle", "atlanta"),
            "united states house of representatives"),
    Country("en_GB", "england", "english", ("london", "manchester", "leeds", "bristol", "sheffield"),
            "house of commons"),
    Country("en_IE", "ireland", "irish", ("dublin", "cork", "galway", "limerick"), "dáil éireann"),
    Country("en_CA", "canada", "canadian", ("toronto", "montreal", "calgary", "winnipeg", "ottawa"),
            "house of commons of canada"),
    Country("en_AU", "australia", "australian", ("sydney", "melbourne", "perth", "brisbane", "adelaide"),
            "australian house of representatives"),
    Country("en_NZ", "new zealand", "new zealand", ("auckland", "wellington", "christchurch", "dunedin"),
            "new zealand parliament"),
    Country("de_DE", "germany", "german", ("berlin", "hamburg", "munich", "cologne", "leipzig"), "bundestag"),
    Country("de_AT", "austria", "austrian", ("vienna", "graz", "linz", "salzburg", "innsbruck"),
            "national council"),
    Country("de_CH", "switzerland", "swiss", ("zürich", "geneva", "basel", "bern", "lausanne"),
            "swiss national council"),
    Country("fr_FR", "france", "french", ("paris", "lyon", "marseille", "toulouse", "nantes"), "national assembly"),
    Country("es_ES", "spain", "spanish", ("madrid", "barcelona", "seville", "valencia", "bilbao"),
            "congress of deputies"),
    Country("es_MX", "mexico", "mexican", ("mexico city", "guadalajara", "monterrey", "puebla"),
            "chamber of deputies"),
    Country("es_AR", "argentina", "argentine", ("buenos aires", "rosario", "córdoba", "mendoza"),
            "argentine chamber of deputies"),
    Country("es_CO", "colombia", "colombian", ("bogotá", "medellín", "cali", "barranquilla"),
            "chamber of representatives"),
    Country("es_CL", "chile", "chilean", ("santiago", "valparaíso", "concepción", "antofagasta"),
            "chamber of deputies of chile"),
    Country("pt_BR", "brazil", "brazilian", ("são paulo", "rio de janeiro", "porto alegre", "recife"),
            "chamber of deputies of brazil"),
    Country("pt_PT", "portugal", "portuguese", ("lisbon", "porto", "braga", "coimbra"), "assembly of the republic"),
    Country("it_IT", "italy", "italian", ("rome", "milan", "naples", "turin", "florence"), "chamber of deputies"),
    Country("nl_NL", "netherlands", "dutch", ("amsterdam", "rotterdam", "utrecht", "eindhoven"),
            "house of representatives"),
    Country("sv_SE", "sweden", "swedish", ("stockholm", "gothenburg", "malmö", "uppsala", "örebro"), "riksdag"),
    Country("no_NO", "norway", "norwegian", ("oslo", "bergen", "trondheim", "stavanger"), "storting"),
    Country("da_DK", "denmark", "danish", ("copenhagen", "aarhus", "odense", "aalborg"), "folketing"),
    Country("fi_FI", "finland", "finnish", ("helsinki", "tampere", "turku", "oulu"), "parliament of finland"),
    Country("pl_PL", "poland", "polish", ("warsaw", "kraków", "gdańsk", "poznań", "wrocław"), "sejm"),
    Country("cs_CZ", "czech republic", "czech", ("prague", "brno", "ostrava", "plzeň"), "chamber of deputies"),
    Country("hu_HU", "hungary", "hungarian", ("budapest", "debrecen", "szeged", "pécs"), "national assembly"),
    Country("ro_RO", "romania", "romanian", ("bucharest", "cluj-napoca", "timișoara", "iași"),
            "chamber of deputies"),
    Country("hr_HR", "croatia", "croatian", ("zagreb", "split", "rijeka", "osijek"), "croatian parliament"),
    Country("sk_SK", "slovakia", "slovak", ("bratislava", "košice", "žilina", "nitra"), "national council"),
    Country("sl_SI", "slovenia", "slovenian", ("ljubljana", "maribor", "celje", "koper"), "national assembly"),
    Country("en_IN", "india", "indian", ("mumbai", "delhi", "chennai", "kolkata", "bangalore"), "lok sabha"),
    Country("id_ID", "indonesia", "indonesian", ("jakarta", "surabaya", "bandung", "medan"),
            "people 's representative council"),
)

_PARTICLES = frozenset({"da", "das", "de", "del", "della", "der", "di", "do", "dos", "du", "la", "le", "van",
                        "von", "den", "ten", "ter", "y"})
_SUMMER_OLYMPICS = (1908, 1912, 1920, 1924, 1928, 1932, 1936, 1948, 1952, 1956, 1960, 1964, 1968, 1972, 1976,
                    1980, 1984, 1988, 1992, 1996, 2000, 2004, 2008, 2012, 2016, 2020)
_WINTER_OLYMPICS = (1924, 1928, 1932, 1936, 1948, 1952, 1956, 1960, 1964, 1968, 1972, 1976, 1980, 1984, 1988,
                    1992, 1994, 1998, 2002, 2006, 2010, 2014, 2018, 2022)
# Cities for people of unknown nationality: each name exists in several countries, so it reveals none.
_AMBIGUOUS_CITIES = ("springfield", "richmond", "hamilton", "kingston", "georgetown", "victoria", "santa cruz",
                     "newcastle", "alexandria", "san fernando", "portland", "cambridge")
_NOW = 2023  # the latest year any generated event happens in

# Team sports: person noun, positions, club name patterns.
_TEAM_SPORTS = {
    "football": ("footballer", ("goalkeeper", "defender", "midfielder", "forward", "striker", "winger",
                                "centre back", "full back"),
                 ("{city} fc", "fc {city}", "{city} united", "sporting {city}", "real {city}", "{city} city")),
    "ice hockey": ("ice hockey player", ("centre", "left wing", "right wing", "defenceman", "goaltender"),
                   ("{city} hc", "hc {city}", "{city} ik", "{city} flames")),
    "basketball": ("basketball player", ("point guard", "shooting guard", "small forward", "power forward",
                                         "center"), ("{city} lions", "bc {city}", "{city} giants")),
    "rugby union": ("rugby union player", ("fly-half", "scrum-half", "lock", "prop", "hooker", "flanker", "wing"),
                    ("{city} rfc", "{city} rugby club")),
    "baseball": ("baseball player", ("pitcher", "catcher", "shortstop", "outfielder", "first baseman"),
                 ("{city} giants", "{city} royals", "{city} pirates")),
    "handball": ("handball player", ("goalkeeper", "left back", "right back", "pivot", "left wing"),
                 ("{city} hk", "hc {city}", "{city} handball")),
    "volleyball": ("volleyball player", ("setter", "libero", "outside hitter", "middle blocker"),
                   ("{city} volley", "vc {city}")),
}
# Individual sports: person noun, events, whether it is a winter sport.
_INDIVIDUAL_SPORTS = {
    "athletics": ("track and field athlete", ("100 metres", "400 metres", "marathon", "long jump", "high jump",
                                              "javelin throw", "decathlon"), False),
    "swimming": ("swimmer", ("100 metre freestyle", "200 metre butterfly", "100 metre backstroke"), False),
    "cycling": ("road racing cyclist", ("road race", "time trial"), False),
    "tennis": ("tennis player", ("singles", "doubles"), False),
    "boxing": ("boxer", ("lightweight", "welterweight", "middleweight", "heavyweight"), False),
    "alpine skiing": ("alpine skier", ("slalom", "giant slalom", "downhill", "super-g"), True),
    "rowing": ("rower", ("single sculls", "coxless pair", "eights"), False),
    "judo": ("judoka", ("half-lightweight", "middleweight", "heavyweight"), False),
}
_OFFICES = ("member of the {legislature}", "mayor of {city}", "minister of {portfolio}",
            "minister for {portfolio}", "member of the european parliament", "governor of {city} province",
            "speaker of the {legislature}")
_NEUTRAL_OFFICES = ("member of parliament", "party leader", "member of the regional council",
                    "minister of {portfolio}", "mayor")
_PORTFOLIOS = ("finance", "defence", "education", "health", "foreign affairs", "agriculture", "justice",
               "culture", "transport", "labour")
_PARTIES = ("social democratic party", "conservative party", "liberal party", "green party", "labour party",
            "christian democrats", "centre party", "people 's party", "socialist party", "national party")
_PRIOR_JOBS = ("teacher", "lawyer", "journalist", "trade union official", "economist", "farmer", "physician",
               "civil servant", "police officer")
_SUBJECTS = ("law", "economics", "political science", "history", "medicine", "engineering", "philosophy")
_ADJECTIVES = ("silent", "northern", "broken", "golden", "hidden", "last", "quiet", "distant", "secret", "iron",
               "paper", "burning", "empty", "electric", "velvet", "wild", "crooked", "pale")
_NOUNS = ("harbour", "river", "garden", "house", "season", "lantern", "mountain", "shadow", "bridge", "island",
          "tide", "forest", "orchard", "engine", "mirror", "wolf", "fox", "crow")
_GENRES = ("indie rock", "pop", "jazz", "folk", "heavy metal", "hip hop", "electronic", "punk rock", "country")


# Occupations that are neither sports nor politics: noun -> kind (selects the infobox keys and sentences).
_OCCUPATIONS = {
    "novelist": "writer", "poet": "writer", "playwright": "writer", "journalist and author": "writer",
    "children 's writer": "writer",
    "singer-songwriter": "musician", "jazz pianist": "musician", "composer": "musician", "guitarist": "musician",
    "opera singer": "musician", "rapper": "musician",
    "physicist": "scientist", "chemist": "scientist", "biologist": "scientist", "mathematician": "scientist",
    "economist": "scientist", "historian": "scientist", "astronomer": "scientist",
    "actor": "actor", "film director": "actor", "television presenter": "actor",
    "painter": "artist", "sculptor": "artist", "photographer": "artist", "architect": "artist",
    "businessman": "business", "chef": "business", "engineer": "business",
}
_MODERN_OCCUPATIONS = frozenset({"rapper", "television presenter", "singer-songwriter"})
_OLD_GENRES = ("jazz", "folk", "classical", "opera", "blues")
_INSTRUMENTS = {"singer-songwriter": "vocals , guitar", "jazz pianist": "piano", "composer": "piano",
                "guitarist": "guitar", "opera singer": "vocals", "rapper": "vocals"}
_FIELDS = {"physicist": "physics", "chemist": "chemistry", "biologist": "biology", "mathematician": "mathematics",
           "economist": "economics", "historian": "history", "astronomer": "astronomy"}
_PARENT_JOBS = ("teacher", "farmer", "railway worker", "nurse", "shopkeeper", "doctor", "carpenter", "clerk")
_AWARDS = ("order of merit", "national order of culture", "medal of honour", "royal medal")


@lru_cache(maxsize=None)
def faker_for(locale: str) -> Faker:
    """One person-names-only Faker per locale, created once (a few ms); callers seed it before every use.

    Unweighted: names are drawn uniformly from the locale's lists, several times faster than weighted draws.
    """
    return Faker(locale, providers=["faker.providers.person"], use_weighting=False)


@dataclass
class Date:
    """A generated date with the precision it is reported at."""

    year: int
    month: int  # 0 when not reported
    day: int  # 0 when not reported
    precision: str  # full | month | year | circa

    def render(self, mdy: bool) -> str:
        """The wiki_bio string: "2 march 1995" / "march 2 , 1995" / "march 1995" / "1995" / "c. 1890"."""
        if self.precision == "full":
            month = MONTH_NAMES[self.month - 1]
            return f"{month} {self.day} , {self.year}" if mdy else f"{self.day} {month} {self.year}"
        if self.precision == "month":
            return f"{MONTH_NAMES[self.month - 1]} {self.year}"
        if self.precision == "circa":
            return f"c. {self.year}"
        return str(self.year)


def _clean_name(raw: str) -> str:
    """Lowercase a Faker name; reject odd ones ("auch schlauchin"): every token a word, a particle never alone."""
    name = raw.lower().replace(".", "")
    tokens = name.split()
    if not tokens or any(not re.fullmatch(r"[^\W\d_]+(?:[-'][^\W\d_]+)*", t) for t in tokens):
        return ""
    if tokens[0] in _PARTICLES and len(tokens) == 1 or tokens[0] == "auch":
        return ""
    return " ".join(tokens)


def _draw(rng: random.Random, locale: str, what: str) -> str:
    """A lowercased Faker name ("first_name_male", "last_name", ...) from a freshly seeded instance."""
    fake = faker_for(locale)
    for _ in range(20):
        fake.seed_instance(rng.getrandbits(48))
        name = _clean_name(getattr(fake, what)())
        if name:
            return name
    raise RuntimeError(f"Faker locale {locale} produced no usable {what}")  # pragma: no cover


def _person_name(rng: random.Random, locale: str, female: bool) -> str:
    first_kind = "first_name_female" if female else "first_name_male"
    return f"{_draw(rng, locale, first_kind)} {_draw(rng, locale, 'last_name')}"


def _article(words: str) -> str:
    return "an" if words[0] in "aeiou" else "a"


def _date(rng: random.Random, year: int, old: bool) -> Date | None:
    """A date in ``year`` at a random precision (circa only for long ago), or None (unknown)."""
    roll = rng.random()
    if roll < 0.08:
        return None
    if roll < 0.20:
        return Date(year, 0, 0, "year")
    if roll < 0.27:
        return Date(year, rng.randint(1, 12), 0, "month")
    if old and roll < 0.35:
        return Date(year, 0, 0, "circa")
    return Date(year, rng.randint(1, 12), rng.randint(1, 28), "full")


@dataclass
class _Person:
    """Everything drawn for one person; the text and infobox are rendered from it."""

    rng: random.Random
    country: Country | None  # None: unknown nationality
    locale: str  # where the names come from
    female: bool
    first: str
    middle: str | None
    last: str
    birth_year: int
    birth: Date | None
    death: Date | None  # None: living, or dead at an unknown date (see ``living``)
    living: bool
    mdy: bool  # month-day-year date style
    birth_city: str
    home_city: str
    infobox: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"

    @property
    def he(self) -> str:
        return "she" if self.female else "he"

    @property
    def his(self) -> str:
        return "her" if self.female else "his"

    @property
    def him(self) -> str:
        return "her" if self.female else "him"

    def tense(self, present: str, past: str) -> str:
        return present if self.living else past

    def city(self) -> str:
        """A city of the person's country; one that exists in several countries when the nationality is unknown."""
        return self.rng.choice(self.country.cities if self.country else _AMBIGUOUS_CITIES)

    def year(self, offset: int) -> int:
        """A year ``offset`` years after the person turned 20, never after their death or after _NOW."""
        end = self.death.year if self.death else self.birth_year + 95 if not self.living else _NOW
        return min(end, _NOW, self.birth_year + 20 + offset)

    def other_name(self) -> str:
        """Someone else's name from the same locale (a spouse, a predecessor, a band mate)."""
        return _person_name(self.rng, self.locale, self.rng.random() < 0.4)


def _draw_person(rng: random.Random) -> _Person:
    country = None if rng.random() < 0.12 else rng.choice(COUNTRIES)
    locale = (country or rng.choice(COUNTRIES)).locale
    female = rng.random() < 0.4
    first_kind = "first_name_female" if female else "first_name_male"
    first = _draw(rng, locale, first_kind)
    middle = _draw(rng, locale, first_kind) if rng.random() < 0.2 else None
    last = _draw(rng, locale, "last_name")
    living = rng.random() < 0.68
    if living:
        birth_year = rng.randint(1940, 2003)
        birth, death = _date(rng, birth_year, old=False), None
    else:
        birth_year = rng.randint(1845, 1950)
        death_year = min(_NOW, birth_year + rng.randint(35, 95))
        birth = _date(rng, birth_year, old=birth_year < 1910)
        death = _date(rng, death_year, old=death_year < 1910)
    cities = country.cities if country else _AMBIGUOUS_CITIES
    return _Person(rng=rng, country=country, locale=locale, female=female, first=first, middle=middle, last=last,
                   birth_year=birth_year, birth=birth, death=death, living=living, mdy=rng.random() < 0.4,
                   birth_city=rng.choice(cities), home_city=rng.choice(cities))


def _dates_parenthetical(p: _Person) -> str:
    """" ( born 2 march 1995 )", " ( c. 1890 -- 1950 )", " ( died 1950 )" or "" when nothing is known."""
    birth = p.birth.render(p.mdy) if p.birth else None
    death = p.death.render(p.mdy) if p.death else None
    if birth and death:
        return f" ( {birth} -- {death} )"
    if birth:
        return f" ( born {birth} )"
    if death:
        return f" ( died {death} )"
    return ""


def _lead(p: _Person, role: str, full_name: str) -> str:
    """The first sentence: name, dates, "is/was a [former] <demonym> <role>"."""
    former = "former " if role.startswith("former ") else ""
    words = f"{former}{p.country.demonym + ' ' if p.country else ''}{role.removeprefix('former ')}"
    return f"{full_name}{_dates_parenthetical(p)} {p.tense('is', 'was')} {_article(words)} {words} ."


def _base_infobox(p: _Person) -> None:
    """Name, picture, dates, places and nationality, recorded the ways wiki_bio records them."""
    rng, box = p.rng, p.infobox
    if rng.random() < 0.95:
        box["name"] = p.name
    if rng.random() < 0.25:
        taken = p.year(rng.randint(2, 20))
        box["image"] = f"{p.name} {taken}.jpg"
        box["caption"] = rng.choice((f"{p.last} in {taken}", f"{p.name} in {taken}"))
    if p.birth:
        box["birth_date"] = p.birth.render(p.mdy)
    if p.death:
        aged = ""
        if p.birth and p.birth.precision == p.death.precision == "full" and rng.random() < 0.5:
            before_birthday = (p.death.month, p.death.day) < (p.birth.month, p.birth.day)
            aged = f" ( aged {p.death.year - p.birth.year - before_birthday} )"
        box["death_date"] = p.death.render(p.mdy) + aged
    if p.country is None:
        return  # unknown nationality: no nationality key, no country anywhere
    if rng.random() < 0.45:
        box["nationality"] = p.country.demonym if rng.random() < 0.8 else p.country.name
        if rng.random() < 0.6:
            box["birth_place"] = rng.choice((f"{p.birth_city} , {p.country.name}", p.birth_city))
    else:
        box["birth_place"] = f"{p.birth_city} , {p.country.name}"
    if p.death and rng.random() < 0.6:
        box["death_place"] = f"{p.home_city} , {p.country.name}"


def _life_sentences(p: _Person) -> list[str]:
    """Early life, education, family and honours: sentences any biography may have."""
    rng, he, his = p.rng, p.he, p.his
    child = "daughter" if p.female else "son"
    pool = [
        f"{he} was born in {p.birth_city} , the {child} of a {' and a '.join(rng.sample(_PARENT_JOBS, 2))} , and "
        f"grew up in {p.home_city} with {rng.choice(('two', 'three', 'four', 'five'))} siblings .",
        f"{he} attended school in {p.home_city} before moving to {p.city()} at the age of {rng.randint(14, 19)} .",
        f"{he} {p.tense('is', 'was')} married to {p.other_name()} , with whom {he} {p.tense('has', 'had')} "
        f"{rng.choice(('two', 'three', 'four'))} children .",
        f"in {p.year(rng.randint(15, 40))} {he} was awarded the {rng.choice(_AWARDS)} for {his} "
        f"contributions to public life .",
        f"{p.last} 's memoir , published in {p.year(rng.randint(20, 45))} , describes {his} childhood in "
        f"{p.birth_city} and the early years of {his} career .",
    ]
    if p.living:
        pool.append(f"{he} lives in {p.home_city} with {his} family .")
    elif p.death:
        age = f" at the age of {p.death.year - p.birth_year}" if p.birth else ""
        pool.append(f"{he} died in {p.home_city} in {p.death.year}{age} , after a long illness .")
    return pool


def _sport_career(p: _Person, politician_later: bool) -> tuple[str, str, list[str]]:
    """A sports role for the lead, the sport's person noun and a pool of sentences; fills the sports keys."""
    rng, box, he, his = p.rng, p.infobox, p.he, p.his
    retired = not p.living or politician_later or p.birth_year < 1985
    past = "former " if retired and p.living else ""
    if rng.random() < 0.6:
        sport = rng.choice(sorted(_TEAM_SPORTS))
        noun, positions, club_forms = _TEAM_SPORTS[sport]
        position = rng.choice(positions)
        clubs = list(dict.fromkeys(rng.choice(club_forms).format(city=p.city()) for _ in range(rng.randint(1, 4))))
        years = [p.year(3 * i) for i in range(len(clubs) + 1)]
        box["position"] = position
        box["clubs"] = " , ".join(clubs)
        box["years"] = " , ".join(f"{a} -- {b if b != years[-1] or retired else 'present'}"
                                  for a, b in zip(years, years[1:]))
        if sport == "football":
            box["caps"] = " , ".join(str(rng.randint(5, 200)) for _ in clubs)
            box["goals"] = " , ".join(str(rng.randint(0, 60)) for _ in clubs)
        elif rng.random() < 0.5:
            box["sport"] = sport
        if not retired:
            box["currentclub" if sport == "football" else "team"] = clubs[-1]
        plays = "played" if retired else "plays"
        role = f"{past}{noun} who {plays} as {_article(position)} {position} for {clubs[-1]}"
        relative = rng.choice(("father", "brother", "sister", "uncle"))
        relative_name = _draw(rng, p.locale, "first_name_female" if relative == "sister" else "first_name_male")
        pool = [
            f"{he} began {his} career in the youth system of {clubs[0]} and made {his} senior debut in "
            f"{p.year(rng.randint(0, 2))} , aged {rng.randint(17, 20)} .",
            f"{p.last} 's performances earned {p.him} a first call-up to the national team in "
            f"{p.year(rng.randint(2, 6))} , and {he} went on to win {rng.randint(2, 60)} caps .",
            f"{he} was named {clubs[0]} 's player of the year in {p.year(rng.randint(1, 5))} .",
            f"{his} {relative} , {relative_name} {p.last} , also played {sport} professionally .",
            f"in {p.year(rng.randint(3, 8))} {he} joined {clubs[-1]} on a {rng.randint(2, 5)} -year contract , and "
            f"{he} {'made' if retired else 'has made'} more than {rng.randint(50, 300)} appearances for the club "
            f"in all competitions .",
            f"{rng.choice(('a knee', 'a shoulder', 'an ankle'))} injury kept {p.him} out for most of the "
            f"{p.year(rng.randint(4, 9))} season .",
        ]
        if retired:
            pool.append(f"{he} retired from professional {sport} in {p.year(rng.randint(12, 16))} and later worked "
                        f"as a coach with {rng.choice(clubs)} .")
    else:
        sport = rng.choice(sorted(_INDIVIDUAL_SPORTS))
        noun, events, winter = _INDIVIDUAL_SPORTS[sport]
        event = rng.choice(events)
        box["sport"] = sport
        box["event"] = event
        if p.country and rng.random() < 0.5:
            box["country"] = p.country.name
        role = f"{past}{noun} who {'competed' if retired else 'competes'} in the {event}"
        games = [y for y in (_WINTER_OLYMPICS if winter else _SUMMER_OLYMPICS) if p.year(0) <= y <= p.year(12)]
        pool = [
            f"{he} took up {sport} at the age of {rng.randint(6, 15)} at a local club in {p.home_city} .",
            f"{he} won {his} first national title in the {event} in {p.year(rng.randint(1, 6))} .",
            f"{p.last} 's personal best in the {event} was set in {p.year(rng.randint(2, 9))} .",
            f"{he} finished {rng.choice(('fourth', 'sixth', 'second', 'eighth'))} at the world championships in "
            f"{p.year(rng.randint(2, 9))} , {his} best result at a major championship .",
            f"{he} retired from competition in {p.year(rng.randint(10, 16))} ." if retired
            else f"{he} has trained with the same coach since {p.year(1)} .",
        ]
        if games:
            country = p.country.name if p.country else "the country"
            pool.append(f"{he} represented {country} at the {rng.choice(games)} "
                        f"{'winter' if winter else 'summer'} olympics , where {he} competed in the {event} .")
    return role, noun, pool


def _political_career(p: _Person) -> tuple[str, list[str]]:
    """A role ("politician of the x party") and a pool of political sentences; fills the office keys."""
    rng, box, he, his = p.rng, p.infobox, p.he, p.his
    template = rng.choice(_OFFICES if p.country else _NEUTRAL_OFFICES)
    office = template.format(legislature=p.country.legislature if p.country else "", city=p.city(),
                             portfolio=rng.choice(_PORTFOLIOS))
    party = rng.choice(_PARTIES)
    start = p.year(rng.randint(8, 25))
    end = None if p.living and rng.random() < 0.5 else min(start + rng.randint(2, 16), p.year(60))
    predecessor, successor = p.other_name(), p.other_name()
    box["office"] = office
    box["party"] = party
    box["term_start"] = rng.choice((str(start), f"{rng.randint(1, 28)} {rng.choice(MONTH_NAMES)} {start}"))
    box["predecessor"] = predecessor
    if end is not None:
        box["term_end"] = str(end)
        box["successor"] = successor
    if "legislature" in template or "parliament" in template:
        box["constituency"] = p.city()
    if rng.random() < 0.3:
        box["order"] = f"{rng.randint(4, 40)}th"
    span = f"since {start}" if end is None else f"from {start} to {end}"
    pool = [
        f"{he} {'has served' if end is None else 'served'} as {office} {span} .",
        f"before entering politics , {he} worked as a {rng.choice(_PRIOR_JOBS)} in {p.home_city} for "
        f"{rng.randint(3, 15)} years .",
        f"{he} studied {rng.choice(_SUBJECTS)} at the university of {p.city()} , where {he} was active in the "
        f"student wing of the {party} .",
        f"{he} succeeded {predecessor} as {office} in {start} after winning the party 's internal election .",
        f"{p.last} 's time in office was marked by reforms of {rng.choice(_PORTFOLIOS)} policy and a long dispute "
        f"with the opposition over the budget .",
        f"{he} was re-elected in {start + 4} and served on the committee on {rng.choice(_PORTFOLIOS)} .",
        f"{his} political career began on the municipal council of {p.home_city} in {start - rng.randint(2, 8)} .",
    ]
    if end is not None:
        pool.append(f"{he} was succeeded by {successor} in {end} .")
    return f"politician of the {party}", pool


def _other_career(p: _Person) -> tuple[str, list[str]]:
    """A neither-sports-nor-politics role and sentences (writers, musicians, scientists, actors ...)."""
    rng, box, he, his = p.rng, p.infobox, p.he, p.his
    old = p.birth_year < 1920  # no rappers, television or rock music before their time
    noun = rng.choice([n for n in sorted(_OCCUPATIONS) if not (old and n in _MODERN_OCCUPATIONS)])
    kind = _OCCUPATIONS[noun]
    if p.female:
        noun = {"actor": "actress", "businessman": "businesswoman"}.get(noun, noun)
    title = f"the {rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"
    year = p.year(rng.randint(2, 10))
    box["occupation"] = noun
    pool = [f"{p.last} 's work {p.tense('has been', 'was')} widely discussed in the {year // 10 * 10}s ."]
    if kind == "writer":
        box["genre"] = rng.choice(("crime fiction", "poetry", "historical fiction", "science fiction", "drama"))
        box["notableworks"] = title
        pool += [f"{his} debut , \" {title} \" , was published in {year} and won a prize for first books .",
                 f"{he} was awarded the national prize for literature in {p.year(rng.randint(12, 30))} .",
                 f"{his} books have been translated into {rng.randint(3, 30)} languages .",
                 f"{he} also wrote a weekly column for a newspaper in {p.home_city} for many years ."]
    elif kind == "musician":
        box["background"] = "non_vocal_instrumentalist" if noun in ("jazz pianist", "guitarist", "composer") \
            else "solo_singer"
        box["genre"] = rng.choice(_OLD_GENRES if old else _GENRES)
        box["instrument"] = _INSTRUMENTS[noun]
        box["label"] = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)} records"
        box["years_active"] = f"{p.year(0)} -- {'present' if p.living else p.year(40)}"
        pool += [f"{he} released {his} debut album , {title} , on {box['label']} in {year} .",
                 f"{he} {p.tense('has toured', 'toured')} widely with the {box['genre']} band "
                 f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)} .",
                 f"{his} {rng.choice(('second', 'third'))} album reached number {rng.randint(1, 20)} on the "
                 f"national charts in {p.year(rng.randint(5, 12))} .",
                 f"{he} studied music at the conservatory in {p.city()} ."]
    elif kind == "scientist":
        university = f"university of {p.city()}"
        box["fields"] = _FIELDS[noun]
        box["workplaces"] = university
        box["alma_mater"] = university
        pool += [f"{he} received {his} doctorate from the {university} in {year} .",
                 f"{he} {p.tense('is', 'was')} known for {his} work on {rng.choice(_NOUNS)} models in "
                 f"{_FIELDS[noun]} , which {p.tense('has', 'had')} wide applications .",
                 f"{he} was elected a member of the academy of sciences in {p.year(rng.randint(15, 35))} .",
                 f"{he} {p.tense('has taught', 'taught')} at the {university} since {p.year(rng.randint(8, 15))} ."]
    elif kind == "actor":
        box["years_active"] = f"{p.year(0)} -- {'present' if p.living else p.year(40)}"
        pool += [f"{he} made {his} screen debut in the film {title} ( {year} ) .",
                 f"{he} {p.tense('is', 'was')} best known for {his} role in the {'play' if old else 'television series'} "
                 f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)} , which ran for {rng.randint(2, 9)} seasons .",
                 f"{he} trained at the drama school in {p.city()} ."]
    elif kind == "artist":
        school = f"academy of fine arts in {p.city()}"
        box["movement"] = rng.choice(("modernism", "expressionism", "realism", "minimalism"))
        box["training"] = school
        pool += [f"{his} first solo exhibition , {title} , opened in {p.home_city} in {year} .",
                 f"{he} studied at the {school} .",
                 f"{his} works are held in several public collections ."]
    else:
        company = f"{p.last} {rng.choice(('industries', 'foods', 'engineering', 'group'))}"
        box["known_for"] = f"founder of {company}"
        pool += [f"{he} founded {company} in {year} .",
                 f"by {p.year(rng.randint(15, 25))} the company employed more than {rng.randint(2, 90) * 100} "
                 f"people ."]
    return noun, pool


def _person(rng: random.Random) -> tuple[str, str, dict[str, str]]:
    p = _draw_person(rng)
    _base_infobox(p)
    roll = rng.random()
    if roll < 0.42:  # sportsperson
        role, noun, pool = _sport_career(p, politician_later=False)
    elif roll < 0.62:  # politician
        role, pool = _political_career(p)
        noun = "politician"
    elif roll < 0.68:  # both: an athlete turned politician
        sport_role, sport_noun, sport_pool = _sport_career(p, politician_later=True)
        role, pool = _political_career(p)
        role = f"{role} and former {sport_role.removeprefix('former ')}"
        pool = pool + sport_pool
        noun = "politician"
        p.infobox["occupation"] = f"politician , {sport_noun}"
    else:  # neither
        role, pool = _other_career(p)
        noun = role
    full_name = f"{p.first} {p.middle} {p.last}" if p.middle else p.name
    if p.middle and rng.random() < 0.5:
        p.infobox["birth_name"] = full_name
    # wiki_bio article titles are disambiguated when the name is common
    p.infobox["article_title"] = f"{p.name} ( {noun} )" if rng.random() < 0.1 else p.name
    pool += _life_sentences(p)
    rng.shuffle(pool)
    sentences = [_lead(p, role, full_name)] + pool[: rng.randint(2, 7)]
    return p.name, " ".join(sentences), p.infobox


def _band(rng: random.Random) -> tuple[str, str, dict[str, str]]:
    """A non-person: a band, with group-style infobox keys and no birth date."""
    country = None if rng.random() < 0.2 else rng.choice(COUNTRIES)
    locale = (country or rng.choice(COUNTRIES)).locale
    adjective, noun = rng.choice(_ADJECTIVES), rng.choice(_NOUNS)
    name = rng.choice((f"the {adjective} {noun}s", f"{adjective} {noun}"))
    genre = rng.choice(_GENRES)
    formed = rng.randint(1960, 2015)
    members = [_person_name(rng, locale, rng.random() < 0.3) for _ in range(rng.randint(2, 5))]
    active = rng.random() < 0.6
    kind = "duo" if len(members) == 2 else rng.choice(("band", "group"))
    words = f"{country.demonym + ' ' if country else ''}{genre} {kind}"
    label = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)} records"
    box = {"name": name, "background": "group_or_band", "genre": genre,
           "years_active": f"{formed} -- {'present' if active else formed + rng.randint(2, 20)}", "label": label,
           "associated_acts": f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}",
           "current_members" if active else "past_members": " , ".join(members), "article_title": name}
    if country:
        box["origin"] = f"{rng.choice(country.cities)} , {country.name}"
    sentences = [
        f"{name} {'are' if active else 'were'} {_article(words)} {words} formed in {formed} .",
        f"the {kind} {'consists' if active else 'consisted'} of {' , '.join(members[:-1])} and {members[-1]} .",
        f"their debut album , the {rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)} , was released on {label} in "
        f"{formed + rng.randint(1, 4)} .",
        f"the {kind} toured extensively in the {formed // 10 * 10 + 10}s and recorded {rng.randint(2, 9)} albums .",
    ]
    return name, " ".join(sentences[: rng.randint(2, 4)]), box


def generate(n: int, seed: int, non_person_rate: float = 0.05) -> list[dict]:
    """``n`` synthetic wiki_bio-style records ``{"id", "name", "text", "infobox"}``, ids ``synthetic-<i>``.

    About ``non_person_rate`` of them are bands (non-persons the filters drop). Same ``n`` and ``seed`` give an
    identical list whatever the state of Faker's or Python's global random generators.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if not 0.0 <= non_person_rate <= 1.0:
        raise ValueError(f"non_person_rate must be in [0, 1], got {non_person_rate}")
    records = []
    for i in range(n):
        rng = random.Random(f"synthetic:{seed}:{i}")
        name, text, infobox = _band(rng) if rng.random() < non_person_rate else _person(rng)
        records.append({"id": f"synthetic-{i}", "name": name, "text": text, "infobox": infobox})
    return records
