"""Value lists the Contact generators draw from: deliberately full of accents, CJK, emoji, commas,
double quotes and embedded LF/CRLF line breaks, because that is what breaks CSV handling."""

from __future__ import annotations

FIRST_NAMES = (
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "Michael",
    "Jennifer",
    "David",
    "Linda",
    "José",
    "Zoë",
    "Björn",
    "Siobhán",
    "François",
    "Ólafur",
    "Łukasz",
    "Ana María",
    "Chloé",
    "Mateo",
    "Aaliyah",
    "Priya",
    "Wei",
    "Hiroshi",
    "さくら",
    "王芳",
    "민준",
    "Noa",
    "Søren",
    "Dmitri",
    "Fatima",
    "Kwame",
    "Sam 🌟",
    "Renée",
    "Jürgen",
    "Ngozi",
    "Thảo",
)
LAST_NAMES = (
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "García",
    "Miller",
    "Davis",
    "Rodríguez",
    "Martínez",
    "O'Brien",
    "Müller",
    "Nguyễn",
    "Dupont-Lévesque",
    "Van der Berg",
    "佐藤",
    "김",
    "Kowalski",
    "Øyen",
    "Al-Sayed",
    "Okafor",
    "Schröder",
    "D'Angelo",
    "MacLeod",
    "Ivanova",
)
MIDDLE_NAMES = ("A.", "Marie", "Lee", "José", "Q.", "Anne")
SUFFIXES = ("Jr.", "III", "MD", "PhD", "Sr.")
TITLES = (
    "Attending Physician",
    "Medical Director, Cardiology",
    'Chief "Heart" Officer',
    "Nurse Practitioner",
    "Physician Assistant",
    "Department Chair, Pediatrics",
    "Resident",
    "Hospitalist",
    "Clinical Lead — Oncology",
    'Head of Dermatology, "West" Campus',
)
DEPARTMENTS = (
    "Cardiology",
    "Pediatrics",
    "Emergency",
    "Primary Care",
    "Surgery",
    "Behavioral Health",
)
CITIES = (
    ("San Francisco", "CA", "94110", "San Francisco County"),
    ("Boston", "MA", "02139", "Suffolk County"),
    ("Austin", "TX", "78701", "Travis County"),
    ("Coeur d'Alene", "ID", "83814", "Kootenai County"),
    ("Cañon City", "CO", "81212", "Fremont County"),
    ("Seattle", "WA", "98101", "King County"),
    ("Miami", "FL", "33101", "Miami-Dade County"),
    ("Portland", "OR", "97201", "Multnomah County"),
    ("Chicago", "IL", "60601", "Cook County"),
    ("Mayagüez", "PR", "00680", "Mayagüez Municipio"),
)
STREETS = ("Main St", "Elm Rd", "Oak Ave", "Harbor Blvd", "Calle de la Paz", "Rue Saint-Denis")
HOSPITALS = (
    "St. Mary's Medical Center",
    "Valley General Hospital",
    "Children's Hospital, East Campus",
    "Universitätsklinikum Heidelberg",
    'Mercy "Health" Partners',
    "北京协和医院",
)
SCHOOLS = (
    "Harvard Medical School",
    "Johns Hopkins University",
    "Universidad de Buenos Aires",
    "北京大学医学部",
    "University of Toronto",
    "Université de Montréal",
)
DESCRIPTIONS = (
    "Prefers morning appointments.",
    'Referred by Dr. Smith, who said: "best in the county".',
    "Line one of the note.\nLine two after a LF.",
    "Windows note line one.\r\nLine two after a CRLF.",
    "Speaks three languages; offers sliding-scale fees, payment plans, and telehealth.",
    "Emoji check: 🩺💉🏥 — and a tab\there.",
    "Trailing spaces are data   ",
    '"Quoted, comma, and\nnewline" all at once',
)
OFFICE_HOURS = (
    "Mon\u2013Fri 8:00\u201317:00\r\nSat 9:00\u201312:00",
    "Mon, Wed, Fri 9-5",
    "By appointment only",
    "Tue\u2013Thu 7:30\u201319:00\nClosed holidays",
)
BIO_PARAGRAPH = (
    "Dr. {name} completed residency at {school} and has practised {years} years. "
    'Patients describe the practice as "calm, thorough, and kind".\n'
)
