from replayqa.cli import main

main()
