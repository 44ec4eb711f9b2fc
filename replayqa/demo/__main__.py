from replayqa.demo.server import main

main()
