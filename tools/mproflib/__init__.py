"""mprof's package: profile.py reads heap and maps files into the data
model, symbolize.py turns PCs into frames, formats/ holds one module per
output, cli.py is the command line."""
