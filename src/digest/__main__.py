from digest.cli import entry

# Guarded: the text worker is a spawned process, which imports this module again under another name.
if __name__ == "__main__":
    entry()
