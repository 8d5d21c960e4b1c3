"""Block lists: parsing list files, downloading them safely, importing them into a category."""
