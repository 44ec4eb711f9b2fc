from replayqa.cli import main

if __name__ == "__main__":  # spawned writer processes import this module too
    main()
