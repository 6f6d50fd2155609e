module benchhello

go 1.26
