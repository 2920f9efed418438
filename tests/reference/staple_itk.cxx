// staple_itk.cxx - run ITK's STAPLEImageFilter / MultiLabelSTAPLEImageFilter on raw uint8
// volumes, for the STAPLE goldens of tests/reference/agree_voxels_reference.py (which builds
// and runs it when ITK is installed; see the README table). Our own program: it only calls ITK.
//
//   staple_itk binary NX NY NZ FG OUT.raw IN1.raw IN2.raw ...   (prints sensitivity,
//       specificity per input and the elapsed iterations; OUT = 1 where W >= 0.5)
//   staple_itk multi  NX NY NZ OUT.raw IN1.raw IN2.raw ...      (OUT = consensus labels;
//       ITK's undecided label is the largest label + 1)
// Build: g++ -O2 -std=c++17 -I/usr/include/ITK-5.2 staple_itk.cxx -L/usr/lib
//        -lITKCommon-5.2 -litksys-5.2 -litkvnl_algo-5.2 -litkvnl-5.2 -litkv3p_netlib-5.2
//        -lITKVNLInstantiation-5.2 -lpthread
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "itkImage.h"
#include "itkMultiLabelSTAPLEImageFilter.h"
#include "itkSTAPLEImageFilter.h"

using Label = unsigned char;
using LabelImage = itk::Image<Label, 3>;

static LabelImage::Pointer load(const char *path, const LabelImage::SizeType &size)
{
    std::ifstream f(path, std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    auto img = LabelImage::New();
    LabelImage::RegionType region;
    region.SetSize(size);
    img->SetRegions(region);
    img->Allocate();
    size_t n = size[0] * size[1] * size[2];
    if (bytes.size() != n) {
        std::fprintf(stderr, "%s: %zu bytes, expected %zu\n", path, bytes.size(), n);
        std::exit(1);
    }
    Label *buf = img->GetBufferPointer();
    for (size_t i = 0; i < n; i++)
        buf[i] = (Label)bytes[i];
    return img;
}

int main(int argc, char **argv)
{
    if (argc < 8) {
        std::fprintf(stderr, "usage: see the header of staple_itk.cxx\n");
        return 2;
    }
    std::string mode = argv[1];
    LabelImage::SizeType size;
    for (int a = 0; a < 3; a++)
        size[a] = std::strtoul(argv[2 + a], nullptr, 10);
    size_t n = size[0] * size[1] * size[2];
    std::vector<unsigned char> out(n);
    if (mode == "binary") {
        int fg = std::atoi(argv[5]);
        const char *outp = argv[6];
        using Staple = itk::STAPLEImageFilter<LabelImage, itk::Image<double, 3>>;
        auto f = Staple::New();
        f->SetForegroundValue((Label)fg);
        for (int i = 7; i < argc; i++)
            f->SetInput(i - 7, load(argv[i], size));
        f->Update();
        for (int i = 7; i < argc; i++)
            std::printf("sensitivity %d %.17g\nspecificity %d %.17g\n", i - 7,
                        f->GetSensitivity(i - 7), i - 7, f->GetSpecificity(i - 7));
        std::printf("iterations %u\n", f->GetElapsedIterations());
        const double *w = f->GetOutput()->GetBufferPointer();
        for (size_t v = 0; v < n; v++)
            out[v] = w[v] >= 0.5;
        std::ofstream(outp, std::ios::binary).write((const char *)out.data(), (std::streamsize)n);
    } else {
        const char *outp = argv[5];
        using Multi = itk::MultiLabelSTAPLEImageFilter<LabelImage, LabelImage>;
        auto f = Multi::New();
        for (int i = 6; i < argc; i++)
            f->SetInput(i - 6, load(argv[i], size));
        f->Update();
        std::printf("iterations %u\n", f->GetElapsedNumberOfIterations());
        const Label *w = f->GetOutput()->GetBufferPointer();
        for (size_t v = 0; v < n; v++)
            out[v] = w[v];
        std::ofstream(outp, std::ios::binary).write((const char *)out.data(), (std::streamsize)n);
    }
    return 0;
}
