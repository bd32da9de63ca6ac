"""Small invented name and place lists for synthetic people (no external data).

Common given and family names are not personal data on their own; towns and streets are
made up. Phone numbers use the 555-01xx range reserved for fiction.
"""

from __future__ import annotations

# fmt: off
FEMALE = (
    "Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Sarah",
    "Karen", "Lisa", "Nancy", "Betty", "Sandra", "Margaret", "Ashley", "Kimberly", "Emily",
    "Donna", "Michelle", "Carol", "Amanda", "Melissa", "Deborah", "Stephanie", "Rebecca", "Sharon",
    "Laura", "Cynthia", "Dorothy", "Amy", "Kathleen", "Angela", "Shirley", "Emma", "Brenda",
    "Pamela", "Nicole", "Anna", "Samantha", "Katherine", "Christine", "Debra", "Rachel", "Carolyn",
    "Janet", "Maria", "Olivia", "Heather", "Helen", "Catherine", "Diane", "Julie", "Victoria",
    "Joyce", "Lauren", "Kelly", "Christina", "Ruth", "Joan", "Virginia", "Judith", "Evelyn",
    "Hannah", "Andrea", "Megan", "Cheryl", "Jacqueline", "Madison", "Teresa", "Abigail", "Sophia",
    "Martha", "Sara", "Gloria", "Janice", "Kathryn", "Ann", "Isabella", "Judy", "Charlotte",
    "Julia", "Grace", "Amber", "Alice", "Jean", "Denise", "Frances", "Danielle", "Marilyn",
    "Natalie", "Beverly", "Diana", "Brittany", "Theresa", "Kayla", "Alexis", "Doris", "Lori",
    "Tiffany", "Rosa", "Ana", "Lucia"
)
MALE = (
    "James", "Robert", "John", "Michael", "David", "William", "Richard", "Joseph", "Thomas",
    "Christopher", "Charles", "Daniel", "Matthew", "Anthony", "Mark", "Donald", "Steven", "Andrew",
    "Paul", "Joshua", "Kenneth", "Kevin", "Brian", "Timothy", "Ronald", "George", "Jason",
    "Edward", "Jeffrey", "Ryan", "Jacob", "Nicholas", "Gary", "Eric", "Jonathan", "Stephen",
    "Larry", "Justin", "Scott", "Brandon", "Benjamin", "Samuel", "Gregory", "Alexander", "Patrick",
    "Frank", "Raymond", "Jack", "Dennis", "Jerry", "Tyler", "Aaron", "Jose", "Adam", "Nathan",
    "Henry", "Zachary", "Douglas", "Peter", "Kyle", "Noah", "Ethan", "Jeremy", "Christian",
    "Walter", "Keith", "Austin", "Roger", "Terry", "Sean", "Gerald", "Carl", "Dylan", "Harold",
    "Jordan", "Jesse", "Bryan", "Lawrence", "Arthur", "Gabriel", "Bruce", "Logan", "Billy", "Joe",
    "Alan", "Juan", "Elijah", "Willie", "Albert", "Wayne", "Randy", "Mason", "Vincent", "Liam",
    "Roy", "Bobby", "Caleb", "Bradley", "Russell", "Lucas", "Luis", "Carlos", "Miguel", "Darnell",
    "Malik", "Andre"
)
FAMILY = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott",
    "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera",
    "Campbell", "Mitchell", "Carter", "Roberts", "Gomez", "Phillips", "Evans", "Turner", "Diaz",
    "Parker", "Cruz", "Edwards", "Collins", "Reyes", "Stewart", "Morris", "Morales", "Murphy",
    "Cook", "Rogers", "Gutierrez", "Ortiz", "Morgan", "Cooper", "Peterson", "Bailey", "Reed",
    "Kelly", "Howard", "Ramos", "Kim", "Cox", "Ward", "Richardson", "Watson", "Brooks", "Chavez",
    "Wood", "James", "Bennett", "Gray", "Mendoza", "Ruiz", "Hughes", "Price", "Alvarez",
    "Castillo", "Sanders", "Patel", "Myers", "Long", "Ross", "Foster", "Jimenez", "Powell",
    "Jenkins", "Perry", "Russell", "Sullivan", "Bell", "Coleman", "Butler", "Henderson", "Barnes",
    "Gonzales", "Fisher", "Vasquez", "Simmons", "Romero", "Jordan", "Patterson", "Alexander",
    "Hamilton", "Graham", "Reynolds", "Griffin", "Wallace", "Moreno", "West", "Cole", "Hayes",
    "Bryant", "Herrera", "Gibson", "Ellis", "Tran", "Medina", "Aguilar", "Stevens", "Murray",
    "Ford", "Castro", "Marshall", "Owens", "Harrison", "Fernandez", "McDonald", "Woods",
    "Washington", "Kennedy", "Wells", "Vargas", "Henry", "Chen", "Freeman", "Webb", "Tucker",
    "Guzman", "Burns"
)
STREETS = (
    "Maple", "Oak", "Cedar", "Elm", "Pine", "Birch", "Willow", "Chestnut", "Walnut", "Spruce",
    "Hickory", "Aspen", "Juniper", "Laurel", "Magnolia", "Sycamore", "Poplar", "Alder", "Hawthorn",
    "Linden", "River", "Lake", "Hill", "Mill", "Church", "Park", "Meadow", "Spring", "Orchard",
    "Harbor", "Ridge", "Valley", "Forest", "Sunset", "Prospect", "Union", "Liberty", "Franklin",
    "Washington", "Jefferson"
)
# fmt: on
STREET_SUFFIXES = ("St", "Ave", "Rd", "Ln", "Dr", "Ct", "Way", "Pl")
TOWNS = (
    ("Riverbend", "12801"),
    ("Millbrook", "12803"),
    ("Cedar Falls", "12804"),
    ("Harbor View", "12808"),
    ("Fairhaven", "12809"),
    ("Oak Hollow", "12810"),
    ("Lakeside", "12811"),
    ("Pine Ridge", "12814"),
)
STATE = "NY"
# fmt: off
RELATIONSHIPS = (
    "mother", "father", "sister", "brother", "spouse", "partner", "daughter", "son", "friend",
)
# fmt: on
