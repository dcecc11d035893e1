"""Country names, place names and demonyms -> one canonical lowercase demonym ("sweden" -> "swedish").

The tables cover every sovereign state, the UK's constituent countries (england -> "english", not
"british"), common short forms (u.s., usa, uk, ussr, ...), a few territories and historical states
(soviet, yugoslav, prussian, ottoman, ...), and, for birth places only, US states, Canadian provinces,
Australian states and the capitals and large cities of many countries. Each line of a table reads
``canonical demonym: name; name; ...`` and the canonical demonym always names itself.

Lookups normalise their input: accents stripped, lowercased, dots removed ("u.s." -> "us"), a leading
"the" and state prefixes ("republic of", "kingdom of", ...) and suffixes ("empire", "ssr") dropped.
"""
from __future__ import annotations

import re
import unicodedata

_COUNTRIES = """
afghan: afghanistan
albanian: albania
algerian: algeria
andorran: andorra
angolan: angola
antiguan: antigua and barbuda; antigua; barbudan
argentine: argentina; argentinian; argentinean
armenian: armenia
australian: australia; aussie
austrian: austria
azerbaijani: azerbaijan; azeri
bahamian: bahamas
bahraini: bahrain
bangladeshi: bangladesh
barbadian: barbados; bajan
belarusian: belarus; belarussian; byelorussian; byelorussia; belorussian
belgian: belgium
belizean: belize
beninese: benin; dahomey
bhutanese: bhutan
bolivian: bolivia
bosnian: bosnia and herzegovina; bosnia; bosnia-herzegovina; herzegovinian
botswanan: botswana; motswana; batswana
brazilian: brazil
bruneian: brunei; brunei darussalam
bulgarian: bulgaria
burkinabe: burkina faso; burkinese; upper volta
burundian: burundi
cambodian: cambodia; kampuchea; khmer
cameroonian: cameroon
canadian: canada
cape verdean: cape verde; cabo verde
central african: central african republic
chadian: chad
chilean: chile
chinese: china; people's republic of china; peoples republic of china; prc; pr china
colombian: colombia
comorian: comoros
congolese: congo; democratic republic of the congo; dr congo; drc; congo-kinshasa; congo-brazzaville; zaire; zairean
costa rican: costa rica
croatian: croatia; croat
cuban: cuba
cypriot: cyprus
czech: czech republic; czechia; bohemia; bohemian; moravia; moravian
danish: denmark; dane
djiboutian: djibouti
dominican: dominica; dominican republic
dutch: netherlands; holland; netherlander; the netherlands
east timorese: east timor; timor-leste; timor leste; timorese
ecuadorian: ecuador; ecuadorean
egyptian: egypt
salvadoran: el salvador; salvadorean
emirati: united arab emirates; uae; emirian
equatorial guinean: equatorial guinea; equatoguinean
eritrean: eritrea
estonian: estonia
swazi: eswatini; swaziland
ethiopian: ethiopia; abyssinia; abyssinian
fijian: fiji
finnish: finland; finn
french: france
gabonese: gabon
gambian: gambia; the gambia
georgian: georgia
german: germany; federal republic of germany; german empire; weimar republic; nazi germany; deutschland
ghanaian: ghana; gold coast
greek: greece; hellenic
grenadian: grenada
guatemalan: guatemala
guinean: guinea
bissau-guinean: guinea-bissau; guinea bissau
guyanese: guyana; british guiana
haitian: haiti
honduran: honduras
hungarian: hungary; magyar
icelandic: iceland; icelander
indian: india; british india; british raj
indonesian: indonesia; dutch east indies
iranian: iran; islamic republic of iran
iraqi: iraq
irish: ireland; republic of ireland; eire; irish free state
israeli: israel
italian: italy
ivorian: ivory coast; cote d'ivoire; cote divoire
jamaican: jamaica
japanese: japan
jordanian: jordan
kazakh: kazakhstan; kazakhstani; kazak
kenyan: kenya
i-kiribati: kiribati
kosovar: kosovo; kosovan
kuwaiti: kuwait
kyrgyz: kyrgyzstan; kyrgyzstani; kirghiz; kirgiz
lao: laos; laotian
latvian: latvia; lett
lebanese: lebanon
basotho: lesotho; mosotho
liberian: liberia
libyan: libya
liechtensteiner: liechtenstein
lithuanian: lithuania
luxembourgish: luxembourg; luxembourger
malagasy: madagascar
malawian: malawi; nyasaland
malaysian: malaysia; malaya; malayan
maldivian: maldives
malian: mali
maltese: malta
marshallese: marshall islands
mauritanian: mauritania
mauritian: mauritius
mexican: mexico
micronesian: micronesia; federated states of micronesia
moldovan: moldova; moldavia; moldavian
monegasque: monaco; monacan
mongolian: mongolia
montenegrin: montenegro
moroccan: morocco
mozambican: mozambique
burmese: myanmar; burma; myanma
namibian: namibia; south west africa
nauruan: nauru
nepalese: nepal; nepali
new zealander: new zealand; nz; kiwi
nicaraguan: nicaragua
nigerien: niger
nigerian: nigeria
north korean: north korea; democratic people's republic of korea; dprk
macedonian: north macedonia; macedonia; fyrom; republic of macedonia
norwegian: norway
omani: oman
pakistani: pakistan
palauan: palau
palestinian: palestine; state of palestine; palestinian territories
panamanian: panama
papua new guinean: papua new guinea; png
paraguayan: paraguay
peruvian: peru
filipino: philippines; the philippines; philippine; filipina
polish: poland; pole
portuguese: portugal
qatari: qatar
romanian: romania; rumania; rumanian
russian: russia; russian federation
rwandan: rwanda
kittitian: saint kitts and nevis; st kitts and nevis; saint kitts; st kitts; nevisian
saint lucian: saint lucia; st lucia
vincentian: saint vincent and the grenadines; st vincent and the grenadines; saint vincent; st vincent
samoan: samoa; western samoa
sammarinese: san marino
sao tomean: sao tome and principe; sao tome
saudi: saudi arabia; saudi arabian
senegalese: senegal
serbian: serbia; serb
seychellois: seychelles
sierra leonean: sierra leone
singaporean: singapore
slovak: slovakia; slovakian
slovenian: slovenia; slovene
solomon islander: solomon islands
somali: somalia; somalian
south african: south africa; union of south africa
south korean: south korea; republic of korea; rok
korean: korea
south sudanese: south sudan
spanish: spain; spaniard
sri lankan: sri lanka; ceylon; ceylonese
sudanese: sudan
surinamese: suriname; surinam
swedish: sweden; swede
swiss: switzerland; swiss confederation
syrian: syria
taiwanese: taiwan; formosa
tajik: tajikistan; tajikistani
tanzanian: tanzania; tanganyika; zanzibar
thai: thailand; siam; siamese
togolese: togo
tongan: tonga
trinidadian: trinidad and tobago; trinidad; tobagonian; trinidad & tobago
tunisian: tunisia
turkish: turkey; turkiye; turk
turkmen: turkmenistan; turkmenistani
tuvaluan: tuvalu
ugandan: uganda
ukrainian: ukraine; the ukraine
british: united kingdom; uk; great britain; britain; united kingdom of great britain and northern ireland; gb; briton
american: united states; united states of america; usa; us; america
uruguayan: uruguay
uzbek: uzbekistan; uzbekistani
ni-vanuatu: vanuatu; vanuatuan
vatican: vatican city; holy see
venezuelan: venezuela
vietnamese: vietnam; viet nam; south vietnam; north vietnam
yemeni: yemen
zambian: zambia; northern rhodesia
zimbabwean: zimbabwe
english: england
scottish: scotland; scots; scot
welsh: wales
northern irish: northern ireland
puerto rican: puerto rico
hongkonger: hong kong; hong konger
macanese: macau; macao
greenlandic: greenland; greenlander
faroese: faroe islands; faroes
bermudian: bermuda
gibraltarian: gibraltar
manx: isle of man
catalan: catalonia
basque: basque country
kurdish: kurdistan; kurd
tibetan: tibet
soviet: soviet union; ussr; union of soviet socialist republics
yugoslav: yugoslavia; yugoslavian; sfr yugoslavia; kingdom of yugoslavia
czechoslovak: czechoslovakia; czechoslovakian
east german: east germany; gdr; german democratic republic
west german: west germany; frg
prussian: prussia
ottoman: ottoman empire
austro-hungarian: austria-hungary; austro-hungarian empire
persian: persia
rhodesian: rhodesia; southern rhodesia
"""

# Places that only appear inside birth places: subnational units and large cities.
_PLACES = """
american: alabama; alaska; arizona; arkansas; california; colorado; connecticut; delaware; florida; hawaii; idaho; \
illinois; indiana; iowa; kansas; kentucky; louisiana; maine; maryland; massachusetts; michigan; minnesota; \
mississippi; missouri; montana; nebraska; nevada; new hampshire; new jersey; new mexico; new york; north carolina; \
north dakota; ohio; oklahoma; oregon; pennsylvania; rhode island; south carolina; south dakota; tennessee; texas; \
utah; vermont; virginia; washington; west virginia; wisconsin; wyoming; district of columbia; dc; washington dc; \
calif; mass; penn; tex; ill; mich; wis; minn; conn; okla; ala; fla; new york city; nyc; los angeles; chicago; \
houston; philadelphia; boston; san francisco; detroit; brooklyn; manhattan; the bronx; bronx; queens; seattle; \
baltimore; cleveland; pittsburgh; st louis; saint louis; atlanta; miami; new orleans; cincinnati; milwaukee; \
minneapolis; denver; dallas; honolulu; san diego; phoenix; portland; buffalo; nashville; memphis
canadian: ontario; quebec; british columbia; alberta; manitoba; saskatchewan; nova scotia; new brunswick; \
newfoundland; newfoundland and labrador; prince edward island; yukon; northwest territories; nunavut; toronto; \
montreal; vancouver; ottawa; winnipeg; calgary; edmonton; halifax; quebec city
australian: new south wales; queensland; south australia; tasmania; western australia; northern territory; \
australian capital territory; sydney; melbourne; brisbane; adelaide; canberra; hobart; darwin
english: london; manchester; liverpool; birmingham; leeds; sheffield; bristol; newcastle upon tyne; nottingham; \
leicester; oxford; cambridge; yorkshire; west yorkshire; south yorkshire; north yorkshire; east yorkshire; \
lancashire; greater manchester; merseyside; west midlands; tyne and wear; middlesex; hampshire; kent; surrey; \
essex; sussex; east sussex; west sussex; devon; cornwall; somerset; dorset; norfolk; suffolk; cheshire; \
lincolnshire; derbyshire; staffordshire; county durham; northumberland; cumbria
scottish: edinburgh; glasgow; aberdeen; dundee
welsh: cardiff; swansea
northern irish: belfast; county antrim; county down
irish: dublin; cork; limerick; galway
swedish: stockholm; gothenburg; goteborg; malmo; uppsala
norwegian: oslo; bergen; trondheim; stavanger
danish: copenhagen; aarhus
finnish: helsinki; tampere; turku
icelandic: reykjavik
german: berlin; hamburg; munich; cologne; frankfurt; stuttgart; dusseldorf; leipzig; dresden; bavaria; saxony
french: paris; marseille; lyon; toulouse; nice; bordeaux; lille; strasbourg
dutch: amsterdam; rotterdam; the hague; utrecht
belgian: brussels; antwerp; ghent; liege
swiss: zurich; geneva; bern; basel; lausanne
austrian: vienna; graz; salzburg; innsbruck; linz
italian: rome; milan; naples; turin; florence; venice; genoa; bologna; palermo; sicily; sardinia
spanish: madrid; barcelona; seville; valencia; bilbao; zaragoza; malaga
portuguese: lisbon; porto; oporto
greek: athens; thessaloniki
polish: warsaw; krakow; cracow; lodz; wroclaw; poznan; gdansk
czech: prague; brno
slovak: bratislava
hungarian: budapest
romanian: bucharest
bulgarian: sofia
serbian: belgrade
croatian: zagreb; split
slovenian: ljubljana
russian: moscow; saint petersburg; st petersburg; leningrad; petrograd
ukrainian: kiev; kyiv; kharkiv; kharkov; odessa; lviv
georgian: tbilisi; kutaisi; batumi
turkish: istanbul; ankara; izmir; constantinople
israeli: tel aviv; haifa
egyptian: cairo; alexandria
indian: new delhi; delhi; mumbai; bombay; kolkata; calcutta; chennai; madras; bangalore; bengaluru; hyderabad
pakistani: karachi; lahore; islamabad
japanese: tokyo; osaka; kyoto; yokohama; nagoya
chinese: beijing; peking; shanghai; guangzhou; canton
south korean: seoul; busan
brazilian: sao paulo; rio de janeiro; brasilia; belo horizonte; porto alegre; salvador; recife
argentine: buenos aires; rosario
mexican: mexico city; guadalajara; monterrey
chilean: santiago
peruvian: lima
colombian: bogota; medellin
south african: johannesburg; cape town; durban; pretoria
nigerian: lagos; abuja
kenyan: nairobi
ghanaian: accra
new zealander: auckland; wellington; christchurch
"""

# Places whose name is both a US state and a country: a US reading unless another component is the country's.
_AMBIGUOUS_PLACES: dict[str, tuple[str, str]] = {"georgia": ("american", "georgian")}

_PREFIXES = (
    "the ",
    "democratic republic of ",
    "federal republic of ",
    "socialist republic of ",
    "people's republic of ",
    "republic of ",
    "kingdom of ",
    "empire of ",
    "state of ",
    "commonwealth of ",
    "principality of ",
    "grand duchy of ",
    "duchy of ",
)
_SUFFIXES = (" soviet socialist republic", " ssr", " sfsr", " empire", " province", " state")
_SEPARATORS = re.compile(r"\s*(?:,|/|;|&|\band\b|\bor\b)\s*")
_PARENS = re.compile(r"\([^()]*\)")
_WIKILINK = re.compile(r"\[\[(?:[^\]|]*\|)?([^\]|]*)\]\]")
# Country names and demonyms that are also ordinary English words: skipped in running text ("a pole vaulter").
_PROSE_WORDS = frozenset({"us", "pole", "kiwi", "bohemian", "chad", "jordan", "georgia", "turkey", "china", "guinea"})
_MAX_PHRASE = 6
_BRACKETS = (("-lrb-", "("), ("-rrb-", ")"), ("-lsb-", "["), ("-rsb-", "]"), ("-lcb-", "{"), ("-rcb-", "}"))


def normalize(text: str) -> str:
    """Lowercase ASCII with accents stripped, dots removed, wiki_bio brackets as ( ), single spaces."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    for raw, bracket in _BRACKETS:
        text = text.replace(raw, bracket)
    text = text.replace("`", "'").replace(" '", "'").replace(".", "").replace("_", " ")
    return " ".join(text.split())


def _parse_table(table: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in table.replace("\\\n", "").strip().splitlines():
        demonym, names = line.split(":", 1)
        for name in (demonym, *names.split(";")):
            out[normalize(name)] = demonym.strip()
    return out


COUNTRY_DEMONYMS: dict[str, str] = _parse_table(_COUNTRIES)
PLACE_DEMONYMS: dict[str, str] = {**_parse_table(_PLACES), **{k: v[0] for k, v in _AMBIGUOUS_PLACES.items()}}


def _variants(name: str) -> list[str]:
    """``name`` and the forms left after dropping a leading article, state prefixes and suffixes."""
    out = [name]
    changed = True
    while changed:
        changed = False
        for prefix in _PREFIXES:
            if name.startswith(prefix) and len(name) > len(prefix):
                name = name[len(prefix):]
                out.append(name)
                changed = True
        for suffix in _SUFFIXES:
            if name.endswith(suffix) and len(name) > len(suffix):
                name = name[: -len(suffix)]
                out.append(name)
                changed = True
    return out


def lookup(name: str, places: bool = False) -> str | None:
    """The demonym for a whole country name or demonym (``places``: also places), or None."""
    for variant in _variants(normalize(name)):
        if places and variant in PLACE_DEMONYMS:
            return PLACE_DEMONYMS[variant]
        if variant in COUNTRY_DEMONYMS:
            return COUNTRY_DEMONYMS[variant]
    return None


def _token_demonym(token: str) -> str | None:
    """A hyphenated compound: its last part if that is a demonym ("swedish-american" -> "american")."""
    if "-" not in token:
        return None
    last = token.rsplit("-", 1)[1]
    return COUNTRY_DEMONYMS.get(last) if COUNTRY_DEMONYMS.get(last) == last else None


def scan(text: str, in_prose: bool = False) -> str | None:
    """The first country name or demonym among the words of ``text`` (longest phrase wins), or None.

    Hyphenated compounds count by their last part ("african-american" -> "american"; "norwegian-born" is
    skipped). ``in_prose`` skips words that are also ordinary English ("us", "pole"; "u.s." still counts).
    """
    raw_tokens = text.lower().split()
    tokens = [normalize(token) for token in raw_tokens]
    for i in range(len(tokens)):
        if in_prose and raw_tokens[i] in _PROSE_WORDS:
            continue
        for n in range(min(_MAX_PHRASE, len(tokens) - i), 0, -1):
            phrase = " ".join(tokens[i : i + n])
            if phrase in COUNTRY_DEMONYMS:
                return COUNTRY_DEMONYMS[phrase]
        compound = _token_demonym(tokens[i])
        if compound:
            return compound
    return None


def _clean(value: str) -> str:
    value = _WIKILINK.sub(r"\1", normalize(value).replace("[ [", "[[").replace("] ]", "]]"))
    while _PARENS.search(value):
        value = _PARENS.sub(" ", value)
    return value.replace("[", " ").replace("]", " ").replace("|", " ")


def from_nationality(value: str) -> str | None:
    """The first nationality named in a ``nationality``-style infobox value, as a demonym, or None.

    "american , canadian" -> "american"; "[[sweden|swedish]]" -> "swedish"; "united states" -> "american";
    parenthesised remarks ("german ( until 1934 )") are ignored.
    """
    value = _clean(value)
    whole = lookup(value)
    if whole:
        return whole
    for part in _SEPARATORS.split(value):
        if not part.strip():
            continue
        found = lookup(part) or scan(part)
        if found:
            return found
    return None


def from_place(value: str) -> str | None:
    """The demonym of the country a place lies in, read from its last recognised comma-separated component.

    "stockholm , sweden" -> "swedish"; "new york city , new york , u.s." -> "american"; "oslo" -> "norwegian"
    (capitals and large cities are known); "atlanta , georgia" -> "american", "tbilisi , georgia" -> "georgian".
    Falls back to the last country name anywhere in the value; None if there is none.
    """
    components = [c.strip() for c in _clean(value).split(",") if c.strip()]
    found = [lookup(c, places=True) for c in components]
    for component, demonym in zip(reversed(components), reversed(found)):
        if demonym is None:
            continue
        options = _AMBIGUOUS_PLACES.get(normalize(component))
        if options and options[1] in found:
            return options[1]
        return demonym
    for component in reversed(components):
        words = component.split()
        for start in range(len(words) - 1, -1, -1):
            hit = scan(" ".join(words[start:]))
            if hit:
                return hit
    return None
