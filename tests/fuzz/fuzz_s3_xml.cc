// S3's XML answers: any bytes read as an error answer, a ListObjectsV2
// answer and the elements the client looks for.
#include <string_view>

#include "../../src/store/aws_config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sluice::s3;
  const std::string_view xml(reinterpret_cast<const char*>(data), size);
  (void)parse_s3_error(xml);
  (void)parse_list_contents(xml);
  for (const char* name : {"UploadId", "IsTruncated", "NextContinuationToken", "Key", "ETag"})
    (void)xml_element(xml, name);
  return 0;
}
