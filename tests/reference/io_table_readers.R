#!/usr/bin/env Rscript
# What R reads from panseval's table writer, with default options.
#
# Run from the repository root:
#     Rscript tests/reference/io_table_readers.R
#
# Reads tests/golden/io/table_nonfinite.{csv,tsv,json} with read.csv, read.delim and
# jsonlite::fromJSON (all options at their defaults) and writes
# tests/golden/io/table_readers_R.tsv: per format and row the class R chose for the value
# column and the value (NA, NaN, Inf, -Inf or 17 significant digits). The unit test io_table
# compares each value with panseval's own reader (R's NA, jsonlite's reading of null, is
# compared as NaN).
library(jsonlite)
g <- "tests/golden/io"
fmt17 <- function(v) {
  if (is.na(v) && !is.nan(v)) return("NA")
  if (is.nan(v)) return("NaN")
  if (is.infinite(v)) return(if (v > 0) "Inf" else "-Inf")
  formatC(v, digits = 17, format = "g")
}
reads <- list(
  csv = function(p) read.csv(p),
  tsv = function(p) read.delim(p),
  json = function(p) fromJSON(p)
)
out <- "format\trow\tclass\tvalue"
for (fmt in names(reads)) {
  d <- reads[[fmt]](file.path(g, paste0("table_nonfinite.", fmt)))
  for (i in seq_len(nrow(d)))
    out <- c(out, paste(fmt, i - 1, class(d$value), fmt17(d$value[i]), sep = "\t"))
}
writeLines(c(sprintf("# R %s, jsonlite %s; written by tests/reference/io_table_readers.R",
                     getRversion(), packageVersion("jsonlite")), out),
           file.path(g, "table_readers_R.tsv"))
