if __name__ == "__main__":
    # Imported inside the guard: spawned writer processes import this module as
    # ``__mp_main__``, and should not pay for loading the whole CLI.
    from replayqa.cli import main

    main()
