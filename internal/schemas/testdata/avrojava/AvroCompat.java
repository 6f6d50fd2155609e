// AvroCompat prints Apache Avro's (Java) verdicts for the differential test of internal/schemas
// (avro_java_test.go), all in one JVM run. It reads the file named by its argument, one case a line,
// tab-separated (schemas are one-line JSON):
//
//   C <id> <reader> <writer>   check: COMPATIBLE, or INCOMPATIBLE and each incompatibility as
//                              TYPE@location, or ERROR and the exception (a schema does not parse, or the
//                              checker throws)
//   P <id> <schema>            parse: OK or ERROR and the message
//
// and prints "<id>\t<verdict>[\t<details>]" a line, in input order.
import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;

import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;

public class AvroCompat {
  public static void main(String[] args) throws IOException {
    PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
    try (BufferedReader in = Files.newBufferedReader(Paths.get(args[0]), StandardCharsets.UTF_8)) {
      String line;
      while ((line = in.readLine()) != null) {
        if (line.isEmpty()) {
          continue;
        }
        String[] f = line.split("\t", -1);
        String id = f[1];
        try {
          if (f[0].equals("P")) {
            new Schema.Parser().parse(f[2]);
            out.println(id + "\tOK");
            continue;
          }
          Schema reader = new Schema.Parser().parse(f[2]);
          Schema writer = new Schema.Parser().parse(f[3]);
          SchemaCompatibility.SchemaPairCompatibility r =
              SchemaCompatibility.checkReaderWriterCompatibility(reader, writer);
          if (r.getType() == SchemaCompatibility.SchemaCompatibilityType.COMPATIBLE) {
            out.println(id + "\tCOMPATIBLE");
            continue;
          }
          List<String> details = new ArrayList<>();
          for (SchemaCompatibility.Incompatibility i : r.getResult().getIncompatibilities()) {
            details.add(i.getType() + "@" + i.getLocation());
          }
          out.println(id + "\tINCOMPATIBLE\t" + String.join(" ", details));
        } catch (Exception e) {
          out.println(id + "\tERROR\t" + String.valueOf(e).replace('\t', ' ').replace('\n', ' '));
        }
      }
    }
    out.flush();
  }
}
